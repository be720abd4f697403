BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason
}
AfterAll { Complete-VirtShellTest }

Describe 'Start, Stop, Suspend, Resume, Wait' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
        $script:machine = New-VirtMachine -Definition $HelloDefinition -Name life
    }

    It 'Start-VirtMachine -PassThru gives the running machine; starting it again is InvalidState' {
        $started = Start-VirtMachine -Name life -PassThru
        $started.State | Should -Be 'Running'
        $started.IsLocal | Should -BeFalse   # it runs in its host process
        (Get-Process -Id $started.OwnerProcessId).ProcessName | Should -Be 'virtshell-host'
        Start-VirtMachine -Name life -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
        $err[0].TargetObject.Name | Should -Be 'life'
    }

    It 'Suspend-VirtMachine pauses the guest and Resume-VirtMachine lets it go on' {
        Start-VirtMachine -Name life
        Receive-VirtConsole -Name life -Wait -Pattern 'Hello' -Timeout 10 | Out-Null
        (Suspend-VirtMachine -Name life -PassThru).State | Should -Be 'Paused'

        # A paused guest takes input but does not answer it.
        Send-VirtConsole -Name life -Line 'while paused'
        Start-Sleep -Milliseconds 500
        Receive-VirtConsole -Name life | Should -BeNullOrEmpty

        (Resume-VirtMachine -Name life -PassThru).State | Should -Be 'Running'
        Receive-VirtConsole -Name life -Wait -Pattern 'while paused' -Timeout 10 | Should -Be @('while paused')
    }

    It 'Suspend or Resume in the wrong state is InvalidState' {
        Suspend-VirtMachine -Name life -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
        Start-VirtMachine -Name life
        Resume-VirtMachine -Name life -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
    }

    It 'Stop-VirtMachine without -TurnOff warns that the guest was turned off; either way it ends StoppedByUser' {
        Start-VirtMachine -Name life
        $stopped = Stop-VirtMachine -Name life -PassThru -WarningVariable warned -WarningAction SilentlyContinue
        $stopped.State | Should -Be 'Stopped'
        $stopped.LastExit.Reason | Should -Be 'StoppedByUser'
        $warned.Count | Should -Be 1
        "$($warned[0])" | Should -Match 'shutdown channel'

        Start-VirtMachine -Name life
        Stop-VirtMachine -Name life -TurnOff -WarningVariable warned
        $warned | Should -BeNullOrEmpty
        (Get-VirtMachine life).State | Should -Be 'Stopped'
    }

    It 'Wait-VirtMachine -For Running returns at once for a running machine, -For Stopped when it ends' {
        Start-VirtMachine -Name life
        (Wait-VirtMachine -Name life -For Running -Timeout 5 -PassThru).State | Should -Be 'Running'
        Send-VirtConsole -Name life -Line 'exit'
        $ended = $machine | Wait-VirtMachine -For Stopped -Timeout 10 -PassThru
        $ended.State | Should -Be 'Stopped'
        $ended.LastExit.Reason | Should -Be 'DebugExit'
    }

    It 'Wait-VirtMachine times out with VirtShell.Timeout, on time' {
        Start-VirtMachine -Name life
        $elapsed = Measure-Command {
            Wait-VirtMachine -Name life -For Stopped -Timeout 1 -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
        $elapsed.TotalSeconds | Should -BeLessThan 3
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.Timeout,*'
        $err[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $err[0].Exception.Message | Should -Match "'life'.*Running"
    }

    It 'Wait-VirtMachine honours a pipeline stop (Ctrl+C) when it has no timeout' {
        Start-VirtMachine -Name life
        $ps = New-VirtShellRunspacePowerShell
        try {
            $ps.AddCommand('Wait-VirtMachine').AddParameter('Name', 'life').AddParameter('For', 'Stopped') | Out-Null
            $async = $ps.BeginInvoke()
            Start-Sleep -Milliseconds 500
            $async.IsCompleted | Should -BeFalse
            (Measure-Command { $ps.Stop() }).TotalSeconds | Should -BeLessThan 3
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        }
        finally { $ps.Dispose() }
    }

    It 'Remove-VirtMachine refuses a running machine, and -Force turns it off first' {
        Start-VirtMachine -Name life
        Remove-VirtMachine -Name life -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
        (Get-VirtMachine life).State | Should -Be 'Running'
        Remove-VirtMachine -Name life -Force -Confirm:$false
        Get-VirtMachine -Name life -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-MachineFolderEntries | Should -BeNullOrEmpty
    }

    It 'Measure-VirtMachine shows the counters and uptime of a running machine' {
        Start-VirtMachine -Name life
        Start-Sleep -Milliseconds 300
        $measured = Measure-VirtMachine -Name life
        $measured.Name | Should -Be 'life'
        $measured.Uptime | Should -BeGreaterThan ([timespan]::Zero)
        @($measured.PSObject.Properties).Count | Should -BeGreaterThan 3 -Because 'a running model counts something'
    }
}
