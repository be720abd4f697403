BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Import-Module (Get-VirtShellModulePath) -ErrorAction Stop
    $cmdlets = @((Get-Module VirtShell).ExportedCmdlets.Keys | Sort-Object | ForEach-Object { @{ Name = $_ } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Import-Module (Get-VirtShellModulePath) -ErrorAction Stop

    # The text of a MAML description (a list of paragraphs), or '' when there is none.
    function Get-HelpText($Description) {
        (@($Description) | Where-Object { $_ } | ForEach-Object Text) -join "`n"
    }
}

# The help comes from docs/help/<cmdlet>.md through scripts/build-help.ps1; without a help file Get-Help makes up a
# synopsis from the syntax and has no description, parameter text or examples.
Describe 'Help of <Name>' -ForEach $cmdlets {
    BeforeAll {
        $command = Get-Command $Name
        $help = Get-Help $Name -Full
    }

    It 'has a synopsis of its own, not the syntax' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$([regex]::Escape($Name))\s"
    }

    It 'has a description' {
        Get-HelpText $help.description | Should -Not -BeNullOrEmpty
    }

    It 'has text for every parameter' {
        $documented = @{}
        foreach ($parameter in @($help.parameters.parameter)) { $documented[$parameter.name] = Get-HelpText $parameter.description }
        $parameters = $command.Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters }
        foreach ($parameter in $parameters) {
            $documented[$parameter] | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name needs text in docs/help/$Name.md"
        }
    }

    It 'has examples with code and an explanation, which -Examples prints' {
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 1
        foreach ($example in $examples) {
            $example.code | Should -Not -BeNullOrEmpty
            Get-HelpText $example.remarks | Should -Not -BeNullOrEmpty
        }
        $printed = Get-Help $Name -Examples | Out-String -Width 250
        $printed | Should -BeLike "*$($examples[0].code.Split("`n")[0])*"
    }
}

Describe 'about_VirtShell' {
    It 'resolves, and covers the models, the store, ownership and definitions' {
        $text = Get-Help about_VirtShell -ErrorAction Stop | Out-String
        foreach ($expected in 'THE FOUR MODELS', 'VIRTSHELL_HOME', 'HostProcessEnded', "from 'virtshell'", '(v << 1) | 1') {
            $text | Should -BeLike "*$expected*"
        }
    }
}

Describe 'The help build step' {
    BeforeAll {
        # Runs scripts/build-help.ps1, in a child process as build.ps1 does, on a copy of docs/help where $Change has
        # changed the file $Name; returns the changed file and what the step printed.
        function Invoke-HelpBuild([string] $Name, [scriptblock] $Change) {
            $sources = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
            Copy-Item (Join-Path $RepoRoot 'docs/help') $sources -Recurse
            $file = Join-Path $sources $Name
            & $Change $file
            $output = Invoke-ChildPwsh ("& '$RepoRoot/scripts/build-help.ps1' -ModuleDirectory '$(Get-VirtShellModulePath)' " +
                "-SourceDirectory '$sources' -OutputDirectory '$TestDrive/out' 2>&1; `"exit code `$LASTEXITCODE`"")
            [pscustomobject]@{ File = $file; Output = $output -join "`n" }
        }
    }

    It 'fails naming the file and line when a cmdlet parameter has no text' {
        $result = Invoke-HelpBuild 'Stop-VirtMachine.md' {
            param($file)
            Set-Content $file ((Get-Content $file -Raw) -replace '(?ms)^### -TurnOff\n.*?(?=^### )', '') -NoNewline
        }
        $line = (Select-String -Path $result.File -Pattern '^## PARAMETERS').LineNumber
        $result.Output | Should -BeLike "*Stop-VirtMachine.md:${line}: parameter -TurnOff of Stop-VirtMachine has no text*"
        $result.Output | Should -BeLike '*exit code 1'
    }

    It 'fails naming the file and line of a code fence that is never closed' {
        $result = Invoke-HelpBuild 'Get-VirtModel.md' { param($file) Add-Content $file '```powershell' }
        $line = (Get-Content $result.File).Count
        $result.Output | Should -Match "Get-VirtModel\.md:${line}: code fence \(.{3}\) is never closed"
        $result.Output | Should -BeLike '*exit code 1'
    }
}
