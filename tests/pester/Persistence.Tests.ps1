BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason
}
AfterAll { Complete-VirtShellTest }

Describe 'Machines outlive the process that made them' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'a machine created in one process is listed by another' {
        Invoke-ChildPwsh "New-VirtMachine -Definition '$HelloDefinition' -Name kept | Out-Null" | Should -BeNullOrEmpty
        Invoke-ChildPwsh '(Get-VirtMachine).Name' | Should -Be @('kept')
        (Get-VirtMachine kept).State | Should -Be 'Created'
    }

    It 'a machine started by a process that exited runs on in its host process; another process reads, types into and stops it' {
        $output = Invoke-ChildPwsh @"
New-VirtMachine -Definition '$HelloDefinition' -Name orphan | Start-VirtMachine
Receive-VirtConsole -Name orphan -Wait -Pattern 'Hello from VirtShell' -Timeout 20 | Out-Null
Send-VirtConsole -Name orphan -Line 'left behind'
Receive-VirtConsole -Name orphan -Wait -Pattern 'left behind' -Timeout 20 | Out-Null
(Get-VirtMachine orphan).State
"@
        $output | Select-Object -Last 1 | Should -Be 'Running'

        $machine = Get-VirtMachine orphan
        $machine.State | Should -Be 'Running'
        $hostProcess = $machine.OwnerProcessId
        (Get-Process -Id $hostProcess).ProcessName | Should -Be 'virtshell-host'
        $lines = @(Receive-VirtConsole -Name orphan)
        $lines[0] | Should -BeLike 'Hello from VirtShell*'
        $lines | Should -Contain 'left behind'

        Send-VirtConsole -Name orphan -Line 'still here'
        Receive-VirtConsole -Name orphan -Wait -Pattern 'still here' -Timeout 20 | Should -Contain 'still here'
        Stop-VirtMachine -Name orphan -TurnOff
        $stopped = Get-VirtMachine orphan
        $stopped.State | Should -Be 'Stopped'
        $stopped.LastExit.Reason | Should -Be 'StoppedByUser'
        Wait-HostReleased $hostProcess | Should -BeTrue   # the host process ends with the run, or waits as the spare
        Invoke-ChildPwsh '(Get-VirtMachine orphan).State' | Should -Be 'Stopped'
    }

    It 'a machine started by a process that is still running: waited on, its console read and typed into from here' {
        $child = Start-ChildPwsh @"
New-VirtMachine -Definition '$HelloDefinition' -Name elsewhere | Start-VirtMachine
Wait-VirtMachine -Name elsewhere -For Stopped -Timeout 60
"@
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not (Get-VirtMachine -Name 'elsewhere*') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
            $running = Wait-VirtMachine -Name elsewhere -For Running -Timeout 60 -PassThru
            $running.IsLocal | Should -BeFalse
            $running.OwnerProcessId | Should -Not -Be $child.Id   # its host process, not the starter

            @(Receive-VirtConsole -Name elsewhere -Wait -Pattern 'Hello from VirtShell' -Timeout 60)[-1] | Should -BeLike 'Hello from VirtShell*'
            Send-VirtConsole -Name elsewhere -Line 'exit'

            $ended = Wait-VirtMachine -Name elsewhere -For Stopped -Timeout 60 -PassThru
            $ended.LastExit.Reason | Should -Be 'DebugExit'
            Receive-VirtConsole -Name elsewhere -Wait -Pattern 'Goodbye' -Timeout 10 | Should -Contain 'Goodbye.'
            $child.WaitForExit(30000) | Should -BeTrue   # the starter saw it stop too
        }
        finally {
            if (-not $child.HasExited) { $child.Kill() }
        }
    }

    It 'a machine stopped in another process can be started again here' {
        Invoke-ChildPwsh @"
New-VirtMachine -Definition '$HelloDefinition' -Name again | Start-VirtMachine
Stop-VirtMachine -Name again -TurnOff
"@ | Should -BeNullOrEmpty
        (Start-VirtMachine -Name again -PassThru).State | Should -Be 'Running'
        Receive-VirtConsole -Name again -Wait -Pattern 'Hello' -Timeout 10 | Should -Not -BeNullOrEmpty
        Stop-VirtMachine -Name again -TurnOff
    }
}
