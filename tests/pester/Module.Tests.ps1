BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
}
AfterAll { Complete-VirtShellTest }

Describe 'The module' {
    It 'has a manifest that exports exactly the cmdlets it implements' {
        $manifest = Test-ModuleManifest (Join-Path (Get-VirtShellModulePath) 'VirtShell.psd1')
        $manifest.Version | Should -Be ([version]'0.1.0')
        $manifest.CompatiblePSEditions | Should -Be @('Core')
        $exported = (Get-Module VirtShell).ExportedCmdlets.Keys | Sort-Object
        $exported | Should -Be ($manifest.ExportedCmdlets.Keys | Sort-Object)
        $implemented = (Get-Module VirtShell).ImplementingAssembly.GetExportedTypes() |
            ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
            ForEach-Object { "$($_.VerbName)-$($_.NounName)" } | Sort-Object
        $exported | Should -Be $implemented
        $exported | Should -Contain 'Receive-VirtConsole'
    }

    It 'asks before every change (-WhatIf, -Confirm), and Remove-VirtMachine asks by default' {
        foreach ($command in 'New', 'Start', 'Stop', 'Suspend', 'Resume', 'Remove', 'Send') {
            $name = if ($command -eq 'Send') { 'Send-VirtConsole' } else { "$command-VirtMachine" }
            (Get-Command $name).Parameters.Keys | Should -Contain 'WhatIf' -Because $name
            (Get-Command $name).Parameters.Keys | Should -Contain 'Confirm' -Because $name
        }
        $attribute = (Get-Command Remove-VirtMachine).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attribute.ConfirmImpact | Should -Be 'High'
    }

    It 'carries the V8 native library and not the compile-time System.Management.Automation' {
        $files = Get-ChildItem (Get-VirtShellModulePath) | ForEach-Object Name
        $files | Where-Object { $_ -like 'ClearScript*.so' } | Should -Not -BeNullOrEmpty
        $files | Should -Not -Contain 'System.Management.Automation.dll'
    }

    It 'imports in under a second in a fresh process' {
        $ms = Invoke-ChildPwsh "Remove-Module VirtShell; (Measure-Command { Import-Module '$(Get-VirtShellModulePath)' }).TotalMilliseconds"
        [double]($ms | Select-Object -Last 1) | Should -BeLessThan 1000
    }
}

Describe 'Get-VirtModel' {
    It 'lists the models of the catalog, in its order, each with a technique and, when unavailable, a reason' {
        $models = Get-VirtModel
        $catalog = [VirtShell.Models.ModelCatalog]::CreateRegistry([IO.Path]::GetTempPath()).All.Name
        $catalog.Count | Should -BeGreaterThan 0
        $models.Name | Should -Be $catalog
        foreach ($model in $models) {
            $model.Technique | Should -Not -BeNullOrEmpty
            if (-not $model.Available) { $model.Reason | Should -Not -BeNullOrEmpty }
        }
    }

    It 'says why a model is not available, and an available one has no reason' {
        foreach ($model in Get-VirtModel) {
            if ($model.Available) { $model.Reason | Should -BeNullOrEmpty }
            else { $model.Reason | Should -Not -BeNullOrEmpty }
        }
    }

    It 'filters by wildcard, and a name that does not exist is a ModelNotFound error' {
        (Get-VirtModel -Name '*virtual').Name | Should -Be 'paravirtual'
        Get-VirtModel -Name 'no*' | Should -BeNullOrEmpty
        { Get-VirtModel -Name nosuch -ErrorAction Stop } | Should -Throw -ErrorId 'VirtShell.ModelNotFound*'
    }

    It 'completes model names' {
        $line = 'Get-VirtModel -Name par'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be 'paravirtual'
    }

    It 'shows Name, Available, Technique and Reason in its table' {
        $header = (Get-VirtModel | Format-Table | Out-String -Width 200) -split "`n" | Where-Object { $_ -match '\S' } | Select-Object -First 1
        $header -split '\s+' | Where-Object { $_ } | Should -Be @('Name', 'Available', 'Technique', 'Reason')
    }
}
