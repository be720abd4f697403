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
