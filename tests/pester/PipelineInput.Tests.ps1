# Machine names and definition paths as strings from the pipeline, as Hyper-V's cmdlets take VM names.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason
}
AfterAll { Complete-VirtShellTest }

Describe 'A machine name from the pipeline' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
        New-VirtMachine -Definition $HelloDefinition -Name p1 | Out-Null
    }

    It 'binds to -Name of every cmdlet that takes a machine' {
        foreach ($command in Get-Command -Module VirtShell | Where-Object { $_.Parameters.ContainsKey('InputObject') }) {
            $name = $command.Parameters['Name']
            $byValue = $name.ParameterSets.Values | Where-Object ValueFromPipeline
            $byValue | Should -Not -BeNullOrEmpty -Because "$($command.Name) -Name takes strings from the pipeline"
        }
        (Get-Command Get-VirtMachine).Parameters['Name'].ParameterSets.Values.ValueFromPipeline | Should -Contain $true
    }

    It "'p1' | Start-, Measure-, Stop-VirtMachine work on the machine named p1" {
        'p1' | Start-VirtMachine
        ('p1' | Get-VirtMachine).State | Should -Be 'Running'
        'p1' | Receive-VirtConsole -Wait -Pattern 'Hello' -Timeout 10 | Should -Match 'Hello'
        ('p1' | Measure-VirtMachine).Name | Should -Be 'p1'
        $stopped = 'p1' | Stop-VirtMachine -TurnOff -PassThru
        $stopped.State | Should -Be 'Stopped'
    }

    It 'a wildcard from the pipeline selects like -Name, and a missing name is MachineNotFound' {
        @('p*', 'ghost') | Get-VirtMachine -ErrorVariable err -ErrorAction SilentlyContinue | ForEach-Object Name | Should -Be 'p1'
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineNotFound,*'
    }

    It 'machines from the pipeline still bind to -InputObject' {
        Get-VirtMachine p1 | Start-VirtMachine
        (Get-VirtMachine p1 | Stop-VirtMachine -TurnOff -PassThru).State | Should -Be 'Stopped'
    }

    It "'p1' | Remove-VirtMachine removes it" {
        'p1' | Remove-VirtMachine -Confirm:$false
        Get-MachineFolderEntries | Should -BeNullOrEmpty
    }
}

Describe 'A definition path from the pipeline' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It "'./x.js' | New-VirtMachine creates the machine, relative to the current location" {
        Push-Location (Split-Path $HelloDefinition)
        try { $machine = './hello-emulated.js' | New-VirtMachine -Name piped }
        finally { Pop-Location }
        $machine.Name | Should -Be 'piped'
        (Get-VirtMachine piped).Spec.DefinitionPath | Should -Be $HelloDefinition
    }

    It 'Test-VirtDefinition takes path strings and files from Get-ChildItem' {
        $HelloDefinition | Test-VirtDefinition | Should -BeTrue
        Get-Item $HelloDefinition | Test-VirtDefinition | Should -BeTrue
        Get-Item $HelloDefinition | New-VirtMachine -Name fromfile | ForEach-Object Name | Should -Be 'fromfile'
    }
}
