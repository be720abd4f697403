# Every definition with the shared PC devices runs unchanged on the emulated and the hardware model, and shows the
# same behaviour on both: the same assertions, once per model.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
}
AfterAll { Complete-VirtShellTest }

Describe 'hello on the <Model> model' -ForEach @(
    @{ Model = 'emulated'; Definition = 'hello-emulated.js' }
    @{ Model = 'hardware'; Definition = 'hello-hardware.js' }
) {
    BeforeAll {
        $info = Get-VirtModel -Name $Model
        $skip = if (-not $info.Available) { "model '$Model' is not available here: $($info.Reason)" } else { Get-HelloSkipReason }
        $path = Join-Path $RepoRoot "machine-defs/$Definition"
        $name = "shared-$Model"
    }
    BeforeEach { if ($skip) { Set-ItResult -Skipped -Because $skip } }

    It 'is defined for the <Model> model' {
        (New-VirtMachine -Definition $path -Name $name).Model | Should -Be $Model
    }

    It 'greets, echoes a line and powers off through debug-exit with status 1' {
        Start-VirtMachine -Name $name
        # The pattern matches the start of the line; under KVM here ring 0 is slow, so the line is still arriving
        # when its start matches: the whole line comes back all the same.
        Receive-VirtConsole -Name $name -Wait -Pattern '^Hello from VirtShell' -Timeout 30 | Should -Match 'powers off\.$'
        Send-VirtConsole -Name $name -Line 'same on both'
        Receive-VirtConsole -Name $name -Wait -Pattern '^same on both$' -Timeout 30 | Should -Be 'same on both'
        Send-VirtConsole -Name $name -Line 'exit'
        $vm = Wait-VirtMachine -Name $name -For Stopped -Timeout 30 -PassThru
        $vm.State | Should -Be 'Stopped'
        $vm.LastExit.Reason | Should -Be 'DebugExit'
        $vm.LastExit.Status | Should -Be 1
        Get-Content (Join-Path $env:VIRTSHELL_HOME "machines/$name/console.log") -Raw | Should -Match 'Goodbye\.'
    }

    It 'suspends, resumes and turns off' {
        Start-VirtMachine -Name $name
        Receive-VirtConsole -Name $name -Wait -Pattern '^Hello from VirtShell.*powers off\.$' -Timeout 30 | Out-Null
        (Suspend-VirtMachine -Name $name -PassThru).State | Should -Be 'Paused'
        (Resume-VirtMachine -Name $name -PassThru).State | Should -Be 'Running'
        (Stop-VirtMachine -Name $name -TurnOff -PassThru).LastExit.Reason | Should -Be 'StoppedByUser'
        Remove-VirtMachine -Name $name -Confirm:$false
        Get-VirtMachine -Name "$name*" | Should -BeNullOrEmpty
    }
}
