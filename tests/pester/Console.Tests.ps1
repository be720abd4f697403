BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason
    $script:Greeting = 'Hello from VirtShell'
}
AfterAll { Complete-VirtShellTest }

Describe 'The console pipeline on hello-emulated.js' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'New | Start | Send -Line ping | Receive -Wait -Pattern ping: the greeting, then the echo' {
        $lines = @(New-VirtMachine -Definition $HelloDefinition -Name h1 |
            Start-VirtMachine -PassThru |
            Send-VirtConsole -Line 'ping' -PassThru |
            Receive-VirtConsole -Wait -Pattern 'ping' -Timeout 10)
        $lines[0] | Should -BeLike "$Greeting*"
        $lines[-1] | Should -Be 'ping'
        (Get-VirtMachine h1).State | Should -Be 'Running'
    }

    It 'echoes each line sent, and the line "exit" ends the machine with DebugExit' {
        New-VirtMachine -Definition $HelloDefinition -Name h2 | Start-VirtMachine
        Receive-VirtConsole -Name h2 -Wait -Pattern "^$Greeting" -Timeout 10 | Should -HaveCount 1
        foreach ($word in 'alpha', 'beta gamma', '12345') {
            Send-VirtConsole -Name h2 -Line $word
            Receive-VirtConsole -Name h2 -Wait -Pattern "^$([regex]::Escape($word))$" -Timeout 10 | Should -Be @($word)
        }
        Send-VirtConsole -Name h2 -Line 'exit'
        Wait-VirtMachine -Name h2 -For Stopped -Timeout 10 -PassThru | ForEach-Object { $_.LastExit.Reason } | Should -Be 'DebugExit'
        (Get-VirtMachine h2).State | Should -Be 'Stopped'
    }

    It 'keeps a read cursor: output is received once, -FromStart reads it all again' {
        New-VirtMachine -Definition $HelloDefinition -Name h3 | Start-VirtMachine
        Receive-VirtConsole -Name h3 -Wait -Pattern $Greeting -Timeout 10 | Out-Null
        Receive-VirtConsole -Name h3 | Should -BeNullOrEmpty

        # -Text sends no Enter: the guest answers a line only when the carriage return comes.
        Send-VirtConsole -Name h3 -Text 'one'
        Receive-VirtConsole -Name h3 -Timeout 1 -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.Timeout,*' -Because '-Timeout implies -Wait'
        $err[0].Exception.Message | Should -Match 'received nothing'

        Send-VirtConsole -Name h3 -Text "`r"
        Receive-VirtConsole -Name h3 -Wait -Pattern '^one$' -Timeout 10 | Should -Be @('one')
        Start-Sleep -Milliseconds 300
        Receive-VirtConsole -Name h3 | Should -BeNullOrEmpty -Because 'the line end after a matched line is not a line of its own'

        $all = @(Receive-VirtConsole -Name h3 -FromStart)
        $all[0] | Should -BeLike "$Greeting*"
        $all | Should -Contain 'one'
    }

    It '-Follow writes each line as it comes: every echo received sends the next line, until Select-Object has enough' {
        New-VirtMachine -Definition $HelloDefinition -Name hf | Start-VirtMachine
        Receive-VirtConsole -Name hf -Wait -Pattern "^$Greeting" -Timeout 10 | Out-Null
        Send-VirtConsole -Name hf -Line 'echo1'
        $lines = Receive-VirtConsole -Name hf -Follow -Timeout 60 | ForEach-Object {
            $_
            if ($_ -match '^echo(\d)$') { Send-VirtConsole -Name hf -Line "echo$([int]$Matches[1] + 1)" }
        } | Select-Object -First 3
        @($lines) | Should -Be @('echo1', 'echo2', 'echo3')
        # A quiet machine: -Timeout ends the following without an error; -Pattern does not go with it.
        Receive-VirtConsole -Name hf -Follow -Timeout 1 -ErrorVariable quiet | Out-Null
        $quiet | Should -BeNullOrEmpty
        { Receive-VirtConsole -Name hf -Follow -Pattern x -ErrorAction Stop } | Should -Throw -ErrorId 'VirtShell.InvalidArgument*'
    }

    It 'times out with VirtShell.Timeout, saying what it received, and does not move the cursor' {
        New-VirtMachine -Definition $HelloDefinition -Name h4 | Start-VirtMachine
        $elapsed = Measure-Command {
            Receive-VirtConsole -Name h4 -Wait -Pattern 'never printed' -Timeout 2 -ErrorVariable err -ErrorAction SilentlyContinue |
                Should -BeNullOrEmpty
        }
        $elapsed.TotalSeconds | Should -BeGreaterOrEqual 1.9
        $elapsed.TotalSeconds | Should -BeLessThan 5
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.Timeout,*'
        $err[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $err[0].Exception.Message | Should -Match 'never printed'
        $err[0].Exception.Message | Should -Match $Greeting
        @(Receive-VirtConsole -Name h4)[0] | Should -BeLike "$Greeting*"
    }

    It 'stops waiting when the machine ends before the pattern appears' {
        New-VirtMachine -Definition $HelloDefinition -Name h5 | Start-VirtMachine
        Send-VirtConsole -Name h5 -Line 'exit'
        $elapsed = Measure-Command {
            Receive-VirtConsole -Name h5 -Wait -Pattern 'never printed' -Timeout 30 -ErrorVariable err -ErrorAction SilentlyContinue
        }
        $elapsed.TotalSeconds | Should -BeLessThan 15
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineStopped,*'
        $err[0].Exception.Message | Should -Match 'DebugExit'
    }

    It 'honours a pipeline stop (Ctrl+C) while waiting without a timeout' {
        New-VirtMachine -Definition $HelloDefinition -Name h6 | Start-VirtMachine
        $ps = New-VirtShellRunspacePowerShell
        try {
            $ps.AddCommand('Receive-VirtConsole').AddParameter('Name', 'h6').AddParameter('Wait').AddParameter('Pattern', 'never printed') | Out-Null
            $async = $ps.BeginInvoke()
            Start-Sleep -Milliseconds 500
            $async.IsCompleted | Should -BeFalse
            $elapsed = Measure-Command { $ps.Stop() }
            $elapsed.TotalSeconds | Should -BeLessThan 3
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        }
        finally { $ps.Dispose() }
    }

    It 'refuses input for a machine that is not running, and needs -Text or -Line' {
        New-VirtMachine -Definition $HelloDefinition -Name h7 | Out-Null
        Send-VirtConsole -Name h7 -Line 'x' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
        { Send-VirtConsole -Name h7 -ErrorAction Stop } | Should -Throw -ErrorId 'VirtShell.InvalidArgument*'
        { Receive-VirtConsole -Name h7 -Pattern '(' -ErrorAction Stop } | Should -Throw -ErrorId 'VirtShell.InvalidArgument*'
    }
}

Describe 'A pattern that matches a line still being printed' {
    BeforeAll {
        $container = Get-VirtModel -Name container
        $script:ContainerSkip = if (-not $container.Available) { "model 'container' is not available here: $($container.Reason)" }
    }
    BeforeEach { if ($ContainerSkip) { Set-ItResult -Skipped -Because $ContainerSkip } }
    AfterEach { Get-VirtMachine -Name split* | Remove-VirtMachine -Force -Confirm:$false }

    # A prompt has no line end, so a partial line may match, once the output has been quiet for 200 ms; this line
    # pauses for less than that in the middle.
    It 'returns the whole line once the output settles' {
        $definition = Join-Path $TestDrive 'split.js'
        @"
import { machine } from 'virtshell';
export default machine({
  name: 'split', model: 'container', memory: '32M',
  container: {
    rootfs: { busybox: true },
    process: { args: ['/bin/sh', '-c', 'printf "half "; sleep 0.05; echo "and the rest"; sleep 30'] },
  },
});
"@ | Set-Content -LiteralPath $definition
        New-VirtMachine -Definition $definition | Start-VirtMachine
        Receive-VirtConsole -Name split -Wait -Pattern '^half' -Timeout 20 | Should -Be 'half and the rest'
    }
}

Describe 'Console logs that were rotated or grew huge' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'reads across the rotated files by absolute offset, from the oldest kept' {
        $log = Join-Path (New-VirtMachine -Definition $HelloDefinition -Name rotated).Directory 'console.log'
        [IO.File]::WriteAllText("$log.1", "one`ntwo`n")
        [IO.File]::WriteAllText($log, "three`nfour`n")
        [IO.File]::WriteAllText("$log.offset", '100') # console.log starts at 100, console.log.1 at 92
        Receive-VirtConsole -Name rotated -Pattern '^three$' | Should -Be @('one', 'two', 'three')
        Receive-VirtConsole -Name rotated | Should -Be @('four')
        Receive-VirtConsole -Name rotated -FromStart | Should -Be @('one', 'two', 'three', 'four')
    }

    It 'streams a 3 GiB log in bounded memory: -Pattern searches it, then reads it again to hand the lines out' {
        $log = Join-Path (New-VirtMachine -Definition $HelloDefinition -Name huge).Directory 'console.log'
        $file = [IO.File]::Create($log)
        try {
            $file.SetLength(3GB) # sparse: quick to make, read back as zeros
            $file.Position = 3GB
            $file.Write([Text.Encoding]::ASCII.GetBytes("the end`n"))
        }
        finally { $file.Dispose() }
        $self = [Diagnostics.Process]::GetCurrentProcess()
        $peakBefore = $self.PeakWorkingSet64

        $lines = 0
        $last = Receive-VirtConsole -Name huge -FromStart -Pattern '^the end$' | ForEach-Object { $lines++; $_ } | Select-Object -Last 1
        $last | Should -Be 'the end'
        $lines | Should -Be 3073 -Because 'the 3 GiB of zeros, which hold no line end, come out a 1 MiB chunk at a time'

        $self.Refresh()
        ($self.PeakWorkingSet64 - $peakBefore) / 1MB | Should -BeLessThan 512 -Because 'the log is read a chunk at a time'
    }
}

Describe 'A guest that prints without pause' {
    BeforeAll {
        $container = Get-VirtModel -Name container
        $script:ContainerSkip = if (-not $container.Available) { "model 'container' is not available here: $($container.Reason)" }
    }
    BeforeEach { if ($ContainerSkip) { Set-ItResult -Skipped -Because $ContainerSkip } }
    AfterEach { Get-VirtMachine -Name chatty* | Remove-VirtMachine -Force -Confirm:$false }

    It 'keeps console.log within maxSize x maxFiles, and drops and counts what passes the rate limit' {
        $definition = Join-Path $TestDrive 'chatty.js'
        @"
import { machine } from 'virtshell';
export default machine({
  name: 'chatty', model: 'container', memory: '32M',
  console: { maxSize: '64K', maxFiles: 2, rate: '256K' },
  container: { rootfs: { busybox: true }, process: { args: ['/bin/sh', '-c', 'yes'] } },
});
"@ | Set-Content -LiteralPath $definition
        $machine = New-VirtMachine -Definition $definition
        Start-VirtMachine -Name chatty
        $deadline = [datetime]::UtcNow.AddSeconds(20)
        while ((Measure-VirtMachine -Name chatty).ConsoleBytesDropped -eq 0 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        $measured = Measure-VirtMachine -Name chatty
        Stop-VirtMachine -Name chatty -TurnOff

        $measured.ConsoleBytesDropped | Should -BeGreaterThan 0 -Because 'yes prints far faster than 256 KiB/s'
        $measured.ConsoleBytesOut | Should -BeGreaterOrEqual 256KB -Because 'the burst passes'
        $logs = @(Get-ChildItem -LiteralPath $machine.Directory -Filter 'console.log*' | Where-Object Name -NotLike '*.offset')
        $logs.Name | Sort-Object | Should -Be @('console.log', 'console.log.1')
        foreach ($log in $logs) { $log.Length | Should -BeLessOrEqual 64KB }
        $lines = @(Receive-VirtConsole -Name chatty -FromStart)
        $lines.Count | Should -BeGreaterThan 10000
        # Dropping cuts where the bucket ran dry, so a line may join the next ('yy'), but nothing else gets in.
        $lines | Where-Object { $_ -notmatch '^y+$' } | Should -BeNullOrEmpty
    }
}
