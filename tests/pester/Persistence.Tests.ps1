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

    It 'a machine left running by a process that exited is listed as Stopped (HostProcessEnded), its console readable' {
        $output = Invoke-ChildPwsh @"
New-VirtMachine -Definition '$HelloDefinition' -Name orphan | Start-VirtMachine
Receive-VirtConsole -Name orphan -Wait -Pattern 'Hello from VirtShell' -Timeout 20 | Out-Null
Send-VirtConsole -Name orphan -Line 'left behind'
Receive-VirtConsole -Name orphan -Wait -Pattern 'left behind' -Timeout 20 | Out-Null
(Get-VirtMachine orphan).State
"@
        $output | Select-Object -Last 1 | Should -Be 'Running'

        $machine = Get-VirtMachine orphan
        $machine.State | Should -Be 'Stopped'
        $machine.LastExit.Reason | Should -Be 'HostProcessEnded'
        Invoke-ChildPwsh '(Get-VirtMachine orphan).State' | Should -Be 'Stopped'

        # Not running here: the console comes from console.log.
        $lines = @(Receive-VirtConsole -Name orphan)
        $lines[0] | Should -BeLike 'Hello from VirtShell*'
        $lines | Should -Contain 'left behind'
        Receive-VirtConsole -Name orphan | Should -BeNullOrEmpty
    }

    It 'a machine running in another process: waited on, its console read from disk, its input refused' {
        $child = Start-ChildPwsh @"
New-VirtMachine -Definition '$HelloDefinition' -Name elsewhere | Start-VirtMachine
Receive-VirtConsole -Name elsewhere -Wait -Pattern 'Hello from VirtShell' -Timeout 60 | Out-Null
Start-Sleep -Seconds 3
Send-VirtConsole -Name elsewhere -Line 'exit'
Wait-VirtMachine -Name elsewhere -For Stopped -Timeout 60
"@
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not (Get-VirtMachine -Name 'elsewhere*') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
            $running = Wait-VirtMachine -Name elsewhere -For Running -Timeout 60 -PassThru
            $running.IsLocal | Should -BeFalse
            $running.OwnerProcessId | Should -Be $child.Id

            @(Receive-VirtConsole -Name elsewhere -Wait -Pattern 'Hello from VirtShell' -Timeout 60)[-1] | Should -BeLike 'Hello from VirtShell*'
            Send-VirtConsole -Name elsewhere -Line 'hi' -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
            $err[0].Exception.Message | Should -Match "in process $($child.Id)"

            $ended = Wait-VirtMachine -Name elsewhere -For Stopped -Timeout 60 -PassThru
            $ended.LastExit.Reason | Should -Be 'DebugExit'
            Receive-VirtConsole -Name elsewhere -Wait -Pattern 'Goodbye' -Timeout 10 | Should -Contain 'Goodbye.'
        }
        finally {
            if (-not $child.WaitForExit(30000)) { $child.Kill() }
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
