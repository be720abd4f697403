# The stored definition: a machine starts from the copy New-VirtMachine kept, and Set-VirtMachine replaces it.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason

    # A hello definition whose beforeBoot hook writes $Word to machine.log.
    function New-WordDefinition([string] $FileName, [string] $Word) {
        New-TestDefinition -FileName $FileName -Hooks "beforeBoot(vm) { vm.log('definition says $Word'); }"
    }

    # Starts the machine, waits for the guest's greeting, turns it off; returns what machine.log says.
    function Invoke-Run([string] $Name) {
        Start-VirtMachine -Name $Name
        Receive-VirtConsole -Name $Name -Wait -Pattern 'Hello' -Timeout 20 | Out-Null
        Stop-VirtMachine -Name $Name -TurnOff
        Get-Content -Raw (Join-Path (Get-VirtMachine $Name).Directory 'machine.log')
    }
}
AfterAll { Complete-VirtShellTest }

Describe 'Stored definitions' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'Start runs the definition as it was at New-VirtMachine, after the original is edited and then deleted' {
        $original = New-WordDefinition 'kept.js' 'one'
        $vm = New-VirtMachine -Definition $original -Name kept
        $vm.DefinitionSource | Should -Be $original
        $vm.DefinitionHash | Should -Be (Get-FileHash -Algorithm SHA256 $original).Hash

        New-WordDefinition 'kept.js' 'two' | Out-Null
        $log = Invoke-Run kept
        $log | Should -Match 'definition says one'
        $log | Should -Not -Match 'definition says two'

        Remove-Item $original
        Invoke-Run kept | Should -Match '(?s)definition says one.*definition says one'
        (Get-VirtMachine kept).State | Should -Be 'Stopped'
    }

    It 'Set-VirtMachine gives the next start the new definition and a new hash; -WhatIf changes nothing' {
        # A machine object is live (one per name in a session): keep the hash, not the object.
        $before = (New-VirtMachine -Definition (New-WordDefinition 'first.js' 'first') -Name swapped).DefinitionHash
        $second = New-WordDefinition 'second.js' 'second'

        Set-VirtMachine -Name swapped -Definition $second -WhatIf
        (Get-VirtMachine swapped).DefinitionHash | Should -Be $before

        $changed = Get-VirtMachine swapped | Set-VirtMachine -Definition $second -PassThru
        $changed.Name | Should -Be 'swapped'
        $changed.DefinitionSource | Should -Be $second
        $changed.DefinitionHash | Should -Not -Be $before
        (Get-VirtMachine swapped).DefinitionHash | Should -Be (Get-FileHash -Algorithm SHA256 $second).Hash
        Invoke-Run swapped | Should -Match 'definition says second'
    }

    It 'A definition that does not validate is an error naming its file and line, and the stored one stays' {
        $before = (New-VirtMachine -Definition (New-WordDefinition 'good.js' 'good') -Name guarded).DefinitionHash
        $bad = New-TestDefinition -FileName 'bad.js' -Devices "uart16550({ port: 0x3f8, irq: 4, console: true, speed: 9600 }),"

        Set-VirtMachine -Name guarded -Definition $bad -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.DefinitionInvalid,*'
        "$($err[0])" | Should -Match ([regex]::Escape("${bad}:8"))

        (Get-VirtMachine guarded).DefinitionHash | Should -Be $before
        Invoke-Run guarded | Should -Match 'definition says good'
    }

    It 'A running machine keeps its definition: InvalidState' {
        $before = (New-VirtMachine -Definition (New-WordDefinition 'running.js' 'running') -Name busy).DefinitionHash
        Start-VirtMachine -Name busy
        Set-VirtMachine -Name busy -Definition (New-WordDefinition 'later.js' 'later') -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
        "$($err[0])" | Should -Match 'Running'
        (Get-VirtMachine busy).DefinitionHash | Should -Be $before
        Stop-VirtMachine -Name busy -TurnOff
    }
}
