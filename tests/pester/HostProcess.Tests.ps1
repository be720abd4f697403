# Machines run in host processes of their own (virtshell-host), controlled through their sockets by any process.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason
}
AfterAll { Complete-VirtShellTest }

Describe 'A machine controlled from a process that did not start it' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'is suspended, resumed, measured and stopped from another process; its host process lets it go with the run' {
        Invoke-ChildPwsh @"
New-VirtMachine -Definition '$HelloDefinition' -Name shared | Start-VirtMachine
Receive-VirtConsole -Name shared -Wait -Pattern 'Hello from VirtShell' -Timeout 20 | Out-Null
"@ | Should -BeNullOrEmpty
        $hostProcess = (Get-VirtMachine shared).OwnerProcessId

        Suspend-VirtMachine -Name shared
        Invoke-ChildPwsh '(Get-VirtMachine shared).State' | Should -Be 'Paused'
        Invoke-ChildPwsh 'Resume-VirtMachine -Name shared; (Get-VirtMachine shared).State' | Should -Be 'Running'
        $measured = Measure-VirtMachine -Name shared
        $measured.Instructions | Should -BeGreaterThan 0
        $measured.ConsoleBytesOut | Should -BeGreaterThan 0

        Invoke-ChildPwsh 'Send-VirtConsole -Name shared -Line ping' | Should -BeNullOrEmpty
        Receive-VirtConsole -Name shared -Wait -Pattern 'ping' -Timeout 20 | Should -Contain 'ping'
        Invoke-ChildPwsh 'Stop-VirtMachine -Name shared -TurnOff; (Get-VirtMachine shared).LastExit.Reason' | Should -Be 'StoppedByUser'
        Wait-HostReleased $hostProcess | Should -BeTrue
        Test-Path (Join-Path $env:VIRTSHELL_HOME 'machines/shared/control.sock') | Should -BeFalse
    }

    It 'is recorded Crashed (HostProcessEnded) at the next command after its host process is killed, and removed cleanly from another process' {
        New-VirtMachine -Definition $HelloDefinition -Name killed | Start-VirtMachine
        $hostProcess = (Get-VirtMachine killed).OwnerProcessId
        $socket = Join-Path $env:VIRTSHELL_HOME 'machines/killed/control.sock'
        Test-Path $socket | Should -BeTrue
        & kill -9 $hostProcess
        Wait-ProcessEnd $hostProcess | Should -BeTrue

        Invoke-ChildPwsh '$m = Get-VirtMachine killed; "$($m.State) $($m.LastExit.Reason)"' | Should -Be 'Crashed HostProcessEnded'
        (Get-VirtMachine killed).LastExit.Detail | Should -Match "host process $hostProcess ended"
        Test-Path $socket | Should -BeFalse   # the orphaned socket is gone
        Start-VirtMachine -Name killed        # and the machine can start again
        Invoke-ChildPwsh 'Remove-VirtMachine -Name killed -Force -Confirm:$false' | Should -BeNullOrEmpty
        Test-Path (Join-Path $env:VIRTSHELL_HOME 'machines/killed') | Should -BeFalse
    }

    It 'cannot be started twice at once: the second start is refused and the first host keeps its socket' {
        New-VirtMachine -Definition $HelloDefinition -Name twice | Start-VirtMachine
        Start-VirtMachine -Name twice -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
        Send-VirtConsole -Name twice -Line 'one host'
        Receive-VirtConsole -Name twice -Wait -Pattern 'one host' -Timeout 20 | Should -Contain 'one host'
        Stop-VirtMachine -Name twice -TurnOff
    }

    It 'gives a clear permission error to a process that may not open its control socket' {
        if (-not (Get-Command setpriv -ErrorAction Ignore) -or (id -u) -ne '0') {
            Set-ItResult -Skipped -Because 'needs root and setpriv (util-linux) to give the socket to another user and drop the capabilities that bypass its mode'
            return
        }
        New-VirtMachine -Definition $HelloDefinition -Name private | Start-VirtMachine
        $socket = Join-Path $env:VIRTSHELL_HOME 'machines/private/control.sock'
        (Get-Item $socket).UnixMode | Should -Be 'srw-------'
        # The socket as another user's (uid 65534), reached from a process without CAP_DAC_OVERRIDE.
        & chown 65534 $socket
        try {
            $child = Get-ChildPwshCommand @'
Stop-VirtMachine -Name private -TurnOff -ErrorVariable err -ErrorAction SilentlyContinue
"$($err[0].FullyQualifiedErrorId)|$($err[0].CategoryInfo.Category)|$($err[0].Exception.Message)"
'@
            $output = & setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all $child.Exe @($child.Arguments) 2>&1 | ForEach-Object { "$_" }
            $id, $category, $message = ($output | Select-Object -Last 1) -split '\|', 3
            $id | Should -BeLike 'VirtShell.EngineError,*'
            $category | Should -Be 'PermissionDenied'
            $message | Should -Match "machine 'private': permission denied opening its control socket"
            $message | Should -Match 'owned by uid 65534'
            (Get-VirtMachine private).State | Should -Be 'Running'
        }
        finally {
            & chown 0 $socket
        }
        Stop-VirtMachine -Name private -TurnOff
    }
}

Describe 'A spare host, started ahead of the next start' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    BeforeAll {
        # The spare that has bound run/spare.sock, once it has warmed up.
        function Wait-Spare([int] $Seconds = 60) {
            $socket = Join-Path $env:VIRTSHELL_HOME 'run/spare.sock'
            $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
            while (-not (Test-Path $socket) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
            if (Test-Path $socket) { Get-SpareHost | Select-Object -First 1 }
        }
    }

    It 'runs the next machine started with the same module and environment, which then greets as any machine does' {
        New-VirtMachine -Definition $HelloDefinition -Name first | Start-VirtMachine
        $spare = Wait-Spare
        $spare | Should -Not -BeNullOrEmpty
        New-VirtMachine -Definition $HelloDefinition -Name second | Start-VirtMachine
        (Get-VirtMachine second).OwnerProcessId | Should -Be $spare
        Receive-VirtConsole -Name second -Wait -Pattern 'Hello from VirtShell' -Timeout 20 | Should -Not -BeNullOrEmpty
        Get-Content (Join-Path $env:VIRTSHELL_HOME 'machines/second/host.log') -Raw | Should -Not -Match 'Exception'
        Stop-VirtMachine -Name first, second -TurnOff
        # Both hosts are done: one may wait as the store's spare, the other ends.
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (@(Get-HostProcess).Count -gt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        @(Get-HostProcess).Count | Should -BeLessOrEqual 1
    }

    It 'is the host of a machine that has stopped, when the store has no spare ready, and takes the next start' {
        New-VirtMachine -Definition $HelloDefinition -Name first | Start-VirtMachine
        $firstHost = (Get-VirtMachine first).OwnerProcessId
        $null = Wait-Spare
        Get-SpareHost | ForEach-Object { Stop-Process -Id $_ -Force -ErrorAction Ignore; Wait-ProcessEnd $_ | Out-Null }
        Stop-VirtMachine -Name first -TurnOff
        Wait-Spare | Should -Be $firstHost
        New-VirtMachine -Definition $HelloDefinition -Name second | Start-VirtMachine
        (Get-VirtMachine second).OwnerProcessId | Should -Be $firstHost
        Receive-VirtConsole -Name second -Wait -Pattern 'Hello from VirtShell' -Timeout 20 | Should -Not -BeNullOrEmpty
        Get-Content (Join-Path $env:VIRTSHELL_HOME 'machines/second/host.log') -Raw | Should -Not -Match 'Exception'
        Stop-VirtMachine -Name second -TurnOff
    }

    It 'is not used by a start from another environment: that start gets a host of its own and the spare ends' {
        New-VirtMachine -Definition $HelloDefinition -Name first | Start-VirtMachine
        $spare = Wait-Spare
        $spare | Should -Not -BeNullOrEmpty
        $env:VIRTSHELL_SPARE_TEST = 'another environment'
        try {
            New-VirtMachine -Definition $HelloDefinition -Name other | Start-VirtMachine
        }
        finally {
            Remove-Item Env:VIRTSHELL_SPARE_TEST
        }
        (Get-VirtMachine other).OwnerProcessId | Should -Not -Be $spare
        Wait-ProcessEnd $spare | Should -BeTrue
        Receive-VirtConsole -Name other -Wait -Pattern 'Hello from VirtShell' -Timeout 20 | Should -Not -BeNullOrEmpty
        Stop-VirtMachine -Name first, other -TurnOff
    }

    It 'ends once it has waited its idle limit without a start' {
        # A store of its own, so that no host of the tests before waits as its spare.
        $previousHome = $env:VIRTSHELL_HOME
        $env:VIRTSHELL_HOME = Join-Path $previousHome 'idle-store'
        $env:VIRTSHELL_SPARE_IDLE_SECONDS = '2'
        try {
            New-VirtMachine -Definition $HelloDefinition -Name idle | Start-VirtMachine
            $spare = Wait-Spare
            $spare | Should -Not -BeNullOrEmpty
            Wait-ProcessEnd $spare -Seconds 30 | Should -BeTrue
            Test-Path (Join-Path $env:VIRTSHELL_HOME 'run/spare.sock') | Should -BeFalse
            # The machine's own host is not a spare while its machine runs: the idle limit is no concern of its.
            (Get-VirtMachine idle).State | Should -Be 'Running'
            Stop-VirtMachine -Name idle -TurnOff
        }
        finally {
            Remove-Item Env:VIRTSHELL_SPARE_IDLE_SECONDS
            Get-SpareHost | ForEach-Object { Stop-Process -Id $_ -Force -ErrorAction Ignore; Wait-ProcessEnd $_ | Out-Null }
            $env:VIRTSHELL_HOME = $previousHome
        }
    }

    It 'is not started when VIRTSHELL_SPARE_HOST is 0' {
        Get-SpareHost | ForEach-Object { Stop-Process -Id $_ -Force -ErrorAction Ignore; Wait-ProcessEnd $_ | Out-Null }
        $env:VIRTSHELL_SPARE_HOST = '0'
        try {
            New-VirtMachine -Definition $HelloDefinition -Name cold | Start-VirtMachine
            Receive-VirtConsole -Name cold -Wait -Pattern 'Hello from VirtShell' -Timeout 20 | Should -Not -BeNullOrEmpty
            @(Get-SpareHost).Count | Should -Be 0
        }
        finally {
            Remove-Item Env:VIRTSHELL_SPARE_HOST
        }
        Stop-VirtMachine -Name cold -TurnOff
    }
}
