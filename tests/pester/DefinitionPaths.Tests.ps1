# -Path / -Definition take wildcards, -LiteralPath does not, as in PowerShell's own cmdlets.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason
}
AfterAll { Complete-VirtShellTest }

Describe 'Wildcards in definition paths' {
    BeforeAll {
        if ($SkipReason) { return }
        $script:Folder = Join-Path $TestDrive 'defs'
        New-Item -ItemType Directory $Folder | Out-Null
        New-Item -ItemType Directory (Join-Path $Folder 'sub.js') | Out-Null # a folder is never a definition
        $good = (Get-Content -Raw $HelloDefinition) -replace "'\./guests/hello\.bin'", "'$($HelloImage -replace '\\', '/')'"
        foreach ($name in 'a', 'b') { Set-Content (Join-Path $Folder "$name.js") ($good -replace "name: 'hello'", "name: 'wild-$name'") }
        Set-Content (Join-Path $Folder 'broken.js') 'export default 42;'
        Set-Content -LiteralPath (Join-Path $Folder 'odd[1].js') ($good -replace "name: 'hello'", "name: 'odd'")
    }
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'Test-VirtDefinition ./defs/*.js tests each file, in name order' {
        $results = Test-VirtDefinition (Join-Path $Folder '*.js') -ErrorVariable err -ErrorAction SilentlyContinue
        # a, b, broken, odd[1]
        $results | Should -Be @($true, $true, $false, $true)
        $err.Count | Should -Be 1
        "$($err[0])" | Should -Match 'broken\.js'
    }

    It 'a pattern that matches nothing is DefinitionNotFound naming the pattern' {
        $pattern = Join-Path $Folder '*.nothing'
        Test-VirtDefinition $pattern -ErrorVariable err -ErrorAction SilentlyContinue | Should -Be $false
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.DefinitionNotFound,*'
        $err[0].TargetObject | Should -Be $pattern
        "$($err[0])" | Should -BeLike "*'$pattern'*"

        New-VirtMachine -Definition $pattern -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.DefinitionNotFound,*'
        "$($err[0])" | Should -BeLike "*'$pattern'*"
    }

    It 'New-VirtMachine with a wildcard creates a machine per file' {
        $created = New-VirtMachine -Definition (Join-Path $Folder '[ab].js')
        $created.Name | Should -Be @('wild-a', 'wild-b')
    }

    It 'New-VirtMachine -Name with a pattern that matches several files is an error that creates nothing' {
        New-VirtMachine -Definition (Join-Path $Folder '[ab].js') -Name one -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidArgument,*'
        "$($err[0])" | Should -Match 'matches 2 definition files'
        Get-VirtMachine | Should -BeNullOrEmpty
    }

    It '-LiteralPath names a file whose name has brackets; -Path reads them as a pattern and says so' {
        $odd = Join-Path $Folder 'odd[1].js'
        Test-VirtDefinition -LiteralPath $odd | Should -BeTrue
        (New-VirtMachine -LiteralPath $odd).Name | Should -Be 'odd'

        New-VirtMachine -Definition $odd -Name other -ErrorVariable err -ErrorAction SilentlyContinue
        "$($err[0])" | Should -Match 'LiteralPath'
    }
}
