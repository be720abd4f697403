#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Makes the module's external help (MAML) from docs/help/<Cmdlet>.md, and copies the about_*.help.txt topics.
.DESCRIPTION
    Text comes from the markdown, one file per cmdlet; what the cmdlet itself knows (parameter sets, types, positions,
    pipeline input, wildcards, aliases) comes from the cmdlet, so the syntax Get-Help prints can never disagree with
    it. A markdown file that does not follow the layout, a cmdlet with no file, and a parameter with no text (or text
    for a parameter the cmdlet lacks) are errors naming the file and line. Run it in a process of its own: it imports
    the module it documents.

    The layout (headings in this order; INPUTS, OUTPUTS, NOTES and RELATED LINKS may be left out):

        # Verb-Noun
        ## SYNOPSIS          one paragraph
        ## DESCRIPTION       paragraphs
        ## EXAMPLES          two or more of:  ### Example N: title, a ```powershell fence, then what it shows
        ## PARAMETERS        one "### -Name" per parameter, then its text
        ## INPUTS            "### TypeName", then text
        ## OUTPUTS           "### TypeName", then text
        ## NOTES             paragraphs
        ## RELATED LINKS     one link a line: [text](uri) or [text]()
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModuleDirectory,
    [string] $SourceDirectory = (Join-Path $PSScriptRoot '../docs/help'),
    # Where the help files go; by default the module's en-US folder.
    [string] $OutputDirectory = (Join-Path $ModuleDirectory 'en-US')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Sections = 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'RELATED LINKS'
$RequiredSections = 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS'
$MinimumExamples = 2
# -WhatIf and -Confirm mean the same on every cmdlet that has them; a markdown file may still say more.
$ShouldProcessText = @{
    WhatIf  = 'Shows what the cmdlet would do, without doing it.'
    Confirm = 'Asks for confirmation before each change.'
}

# Verbose, ErrorAction...: Get-Help adds <CommonParameters> for them itself.
$CommonParameters = [System.Management.Automation.Cmdlet]::CommonParameters

$Namespaces = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}

function New-SourceError([string] $File, [int] $Line, [string] $Message) {
    $relative = [IO.Path]::GetRelativePath((Get-Location).Path, $File)
    [InvalidOperationException]::new("${relative}:${Line}: $Message")
}

# Blank-line separated paragraphs; list items ("- ", "* ", "1. ") each become a paragraph of their own.
function ConvertTo-Paragraphs([object[]] $Lines) {
    $paragraphs = [Collections.Generic.List[string]]::new()
    $current = [Collections.Generic.List[string]]::new()
    foreach ($entry in $Lines) {
        $text = $entry.Text.Trim()
        if ($text -eq '' -or $text -match '^([-*]|\d+\.)\s') {
            if ($current.Count) { $paragraphs.Add($current -join ' '); $current.Clear() }
        }
        if ($text -ne '') { $current.Add($text) }
    }
    if ($current.Count) { $paragraphs.Add($current -join ' ') }
    , $paragraphs.ToArray()
}

# Reads one markdown source into its parts; every deviation from the layout throws with file:line.
function Read-HelpSource([string] $File) {
    $raw = [IO.File]::ReadAllLines($File)
    $lines = @(for ($i = 0; $i -lt $raw.Count; $i++) { [pscustomobject]@{ Number = $i + 1; Text = $raw[$i] } })
    $name = [IO.Path]::GetFileNameWithoutExtension($File)

    $first = $lines | Where-Object { $_.Text.Trim() -ne '' } | Select-Object -First 1
    if (-not $first -or $first.Text -ne "# $name") {
        throw (New-SourceError $File ($first ? $first.Number : 1) "the file must start with the title '# $name'")
    }

    # Split into '## ' sections, minding code fences (a '#' comment in code is not a heading).
    $bodies = [ordered]@{}
    $headingLines = @{}
    $section = $null
    $fenceStart = $null
    foreach ($line in $lines) {
        if ($line.Number -le $first.Number) { continue }
        if ($line.Text -match '^\s*```') { $fenceStart = $fenceStart ? $null : $line.Number }
        if (-not $fenceStart -and $line.Text -match '^##\s+(.*?)\s*$' -and $line.Text -notmatch '^###') {
            $section = $Matches[1].ToUpperInvariant()
            if ($section -notin $Sections) {
                throw (New-SourceError $File $line.Number "unknown section '## $($Matches[1])' (sections: $($Sections -join ', '))")
            }
            if ($bodies.Contains($section)) { throw (New-SourceError $File $line.Number "section '## $section' appears twice") }
            $order = [array]::IndexOf($Sections, $section)
            $previous = @($bodies.Keys | ForEach-Object { [array]::IndexOf($Sections, $_) } | Where-Object { $_ -gt $order })
            if ($previous) { throw (New-SourceError $File $line.Number "section '## $section' must come before '## $($Sections[$previous[0]])'") }
            $bodies[$section] = [Collections.Generic.List[object]]::new()
            $headingLines[$section] = $line.Number
            continue
        }
        if ($null -eq $section) {
            if ($line.Text.Trim() -ne '') { throw (New-SourceError $File $line.Number "text before the first section; start one with '## SYNOPSIS'") }
            continue
        }
        $bodies[$section].Add($line)
    }
    if ($fenceStart) { throw (New-SourceError $File $fenceStart 'code fence (```) is never closed') }
    foreach ($required in $RequiredSections) {
        if (-not $bodies.Contains($required)) { throw (New-SourceError $File $lines.Count "section '## $required' is missing") }
    }

    $synopsis = ConvertTo-Paragraphs $bodies['SYNOPSIS']
    if ($synopsis.Count -ne 1) { throw (New-SourceError $File $headingLines['SYNOPSIS'] "SYNOPSIS must be one paragraph, not $($synopsis.Count)") }
    $description = ConvertTo-Paragraphs $bodies['DESCRIPTION']
    if (-not $description) { throw (New-SourceError $File $headingLines['DESCRIPTION'] 'DESCRIPTION is empty') }

    $examples = @(Read-Subsections $File $bodies['EXAMPLES'] | ForEach-Object { Read-Example $File $_ })
    if ($examples.Count -lt $MinimumExamples) {
        throw (New-SourceError $File $headingLines['EXAMPLES'] "$($examples.Count) example(s); the help needs at least $MinimumExamples")
    }

    $parameters = [ordered]@{}
    foreach ($sub in Read-Subsections $File $bodies['PARAMETERS']) {
        if ($sub.Title -notmatch '^-([A-Za-z][A-Za-z0-9]*)$') { throw (New-SourceError $File $sub.Line "a parameter heading is '### -Name', not '### $($sub.Title)'") }
        $parameter = $Matches[1]
        if ($parameters.Contains($parameter)) { throw (New-SourceError $File $sub.Line "parameter -$parameter is documented twice") }
        $text = ConvertTo-Paragraphs $sub.Lines
        if (-not $text) { throw (New-SourceError $File $sub.Line "parameter -$parameter has no text") }
        $parameters[$parameter] = [pscustomobject]@{ Text = $text; Line = $sub.Line }
    }

    $types = @{}
    foreach ($kind in 'INPUTS', 'OUTPUTS') {
        $types[$kind] = @(if ($bodies.Contains($kind)) {
                Read-Subsections $File $bodies[$kind] | ForEach-Object {
                    [pscustomobject]@{ Type = $_.Title; Text = (ConvertTo-Paragraphs $_.Lines) }
                }
            })
    }
    $links = @(if ($bodies.Contains('RELATED LINKS')) {
            foreach ($line in $bodies['RELATED LINKS']) {
                $text = $line.Text.Trim()
                if ($text -eq '') { continue }
                if ($text -notmatch '^[-*]?\s*\[([^\]]+)\]\(([^)]*)\)$') { throw (New-SourceError $File $line.Number "a related link is '[text](uri)' or '[text]()', not '$text'") }
                [pscustomobject]@{ Text = $Matches[1]; Uri = $Matches[2] }
            }
        })

    [pscustomobject]@{
        Name           = $name
        File           = $File
        Synopsis       = $synopsis[0]
        Description    = $description
        Examples       = $examples
        Parameters     = $parameters
        ParametersLine = $headingLines['PARAMETERS']
        Inputs         = $types['INPUTS']
        Outputs        = $types['OUTPUTS']
        Notes          = @(if ($bodies.Contains('NOTES')) { ConvertTo-Paragraphs $bodies['NOTES'] })
        Links          = $links
    }
}

# One '### Example N: title' part: a code block first, then text saying what it shows.
function Read-Example([string] $File, $Part) {
    $code = [Collections.Generic.List[string]]::new()
    $remarks = [Collections.Generic.List[object]]::new()
    $state = 'before'
    foreach ($line in $Part.Lines) {
        if ($line.Text -match '^\s*```') {
            if ($state -eq 'before') { $state = 'code' } elseif ($state -eq 'code') { $state = 'after' }
            else { throw (New-SourceError $File $line.Number "example '$($Part.Title)' has a second code block; make it another example") }
            continue
        }
        switch ($state) {
            'before' { if ($line.Text.Trim() -ne '') { throw (New-SourceError $File $line.Number "example '$($Part.Title)': the code block must come first") } }
            'code' { $code.Add($line.Text) }
            'after' { $remarks.Add($line) }
        }
    }
    if ($state -eq 'before') { throw (New-SourceError $File $Part.Line "example '$($Part.Title)' has no code block") }
    $explanation = ConvertTo-Paragraphs $remarks
    if (-not $explanation) { throw (New-SourceError $File $Part.Line "example '$($Part.Title)' does not say what it shows (text after its code block)") }
    [pscustomobject]@{ Title = $Part.Title; Code = ($code -join "`n"); Remarks = $explanation }
}

# The '### title' parts of a section; nothing but blank lines may come before the first.
function Read-Subsections([string] $File, [object[]] $Lines) {
    $current = $null
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line.Text -match '^\s*```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.Text -match '^###\s+(.*?)\s*$') {
            if ($current) { $current }
            $current = [pscustomobject]@{ Title = $Matches[1]; Line = $line.Number; Lines = [Collections.Generic.List[object]]::new() }
            continue
        }
        if (-not $current) {
            if ($line.Text.Trim() -ne '') { throw (New-SourceError $File $line.Number "text outside a '### ' heading") }
            continue
        }
        $current.Lines.Add($line)
    }
    if ($current) { $current }
}

# The parameters Get-Help should show: the cmdlet's own and -WhatIf/-Confirm, not the common ones every cmdlet has.
function Get-DocumentableParameters([System.Management.Automation.CommandInfo] $Command) {
    @($Command.Parameters.Values | Where-Object { $_.Name -notin $CommonParameters })
}

# Compares the markdown's parameters with the cmdlet's: each one the cmdlet has needs text, and no text may be left over.
function Assert-ParametersMatch($Source, [System.Management.Automation.CommandInfo] $Command) {
    $real = Get-DocumentableParameters $Command | ForEach-Object Name
    foreach ($documented in $Source.Parameters.Keys) {
        if ($documented -notin $real) {
            throw (New-SourceError $Source.File $Source.Parameters[$documented].Line "$($Command.Name) has no parameter -$documented (it has: $(($real | ForEach-Object { "-$_" }) -join ', '))")
        }
    }
    foreach ($parameter in $real) {
        if (-not $Source.Parameters.Contains($parameter) -and -not $ShouldProcessText.ContainsKey($parameter)) {
            throw (New-SourceError $Source.File $Source.ParametersLine "parameter -$parameter of $($Command.Name) has no text: add '### -$parameter' under '## PARAMETERS'")
        }
    }
}

function Get-ParameterText($Source, [string] $Name) {
    if ($Source.Parameters.Contains($Name)) { $Source.Parameters[$Name].Text } else { , @($ShouldProcessText[$Name]) }
}

# A friendly type name, as Get-Help shows it (String[], SwitchParameter, Nullable`1 as its argument).
function Get-TypeName([type] $Type) {
    $inner = [Nullable]::GetUnderlyingType($Type)
    if ($inner) { $Type = $inner }
    $Type.Name
}

function Get-PipelineInput([System.Management.Automation.ParameterMetadata] $Parameter, [string] $SetName) {
    $kinds = @(foreach ($set in $Parameter.ParameterSets.GetEnumerator()) {
            if ($SetName -and $set.Key -ne $SetName -and $set.Key -ne '__AllParameterSets') { continue }
            if ($set.Value.ValueFromPipeline) { 'ByValue' }
            if ($set.Value.ValueFromPipelineByPropertyName) { 'ByPropertyName' }
        }) | Select-Object -Unique
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

function Get-SetMetadata([System.Management.Automation.ParameterMetadata] $Parameter, [string] $SetName) {
    if ($SetName -and $Parameter.ParameterSets.ContainsKey($SetName)) { return $Parameter.ParameterSets[$SetName] }
    if ($Parameter.ParameterSets.ContainsKey('__AllParameterSets')) { return $Parameter.ParameterSets['__AllParameterSets'] }
    @($Parameter.ParameterSets.Values)[0]
}

function Add-Element([Xml.XmlNode] $Parent, [string] $QualifiedName, [string] $Text) {
    $prefix, $local = $QualifiedName -split ':', 2
    $element = $Parent.OwnerDocument.CreateElement($prefix, $local, $Namespaces[$prefix])
    if ($PSBoundParameters.ContainsKey('Text')) { $element.InnerText = $Text }
    [void]$Parent.AppendChild($element)
    $element
}

function Add-Paragraphs([Xml.XmlNode] $Parent, [string] $QualifiedName, [string[]] $Paragraphs) {
    $holder = Add-Element $Parent $QualifiedName
    foreach ($paragraph in $Paragraphs) { [void](Add-Element $holder 'maml:para' $paragraph) }
    $holder
}

function Add-Parameter([Xml.XmlNode] $Parent, $Source, $Defaults, [System.Management.Automation.ParameterMetadata] $Parameter, [string] $SetName) {
    $set = Get-SetMetadata $Parameter $SetName
    $isSwitch = $Parameter.SwitchParameter
    $element = Add-Element $Parent 'command:parameter'
    $element.SetAttribute('required', ([string]$set.IsMandatory).ToLowerInvariant())
    $element.SetAttribute('variableLength', ([string]$Parameter.ParameterType.IsArray).ToLowerInvariant())
    $wildcards = [bool]($Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
    $element.SetAttribute('globbing', ([string]$wildcards).ToLowerInvariant())
    $element.SetAttribute('pipelineInput', (Get-PipelineInput $Parameter $SetName))
    $element.SetAttribute('position', ($set.Position -ge 0 ? [string]$set.Position : 'named'))
    $element.SetAttribute('aliases', ($Parameter.Aliases.Count ? ($Parameter.Aliases -join ', ') : 'none'))
    [void](Add-Element $element 'maml:name' $Parameter.Name)
    [void](Add-Paragraphs $element 'maml:description' (Get-ParameterText $Source $Parameter.Name))
    $typeName = Get-TypeName $Parameter.ParameterType
    if (-not $isSwitch) {
        $value = Add-Element $element 'command:parameterValue' $typeName
        $value.SetAttribute('required', 'true')
        $value.SetAttribute('variableLength', 'false')
    }
    $type = Add-Element $element 'dev:type'
    [void](Add-Element $type 'maml:name' $typeName)
    [void](Add-Element $type 'maml:uri' '')
    [void](Add-Element $element 'dev:defaultValue' (Get-DefaultValue $Defaults $Parameter))
}

# What a parameter is when it is not given: the property's value in a new instance of the cmdlet.
function Get-DefaultValue($Defaults, [System.Management.Automation.ParameterMetadata] $Parameter) {
    if ($Parameter.SwitchParameter) { return 'False' }
    if (@($Parameter.ParameterSets.Values | Where-Object IsMandatory).Count) { return 'None' }
    $value = $Defaults.($Parameter.Name)
    if ($null -eq $value -or ($value -is [Array] -and $value.Count -eq 0) -or "$value" -eq '') { return 'None' }
    @($value) -join ', '
}

function Add-Command([Xml.XmlElement] $Root, $Source, [System.Management.Automation.CmdletInfo] $Command) {
    $node = Add-Element $Root 'command:command'
    $details = Add-Element $node 'command:details'
    [void](Add-Element $details 'command:name' $Command.Name)
    [void](Add-Element $details 'command:verb' $Command.Verb)
    [void](Add-Element $details 'command:noun' $Command.Noun)
    [void](Add-Paragraphs $details 'maml:description' $Source.Synopsis)
    [void](Add-Paragraphs $node 'maml:description' $Source.Description)

    $parameters = Get-DocumentableParameters $Command
    $defaults = [Activator]::CreateInstance($Command.ImplementingType)
    $syntax = Add-Element $node 'command:syntax'
    foreach ($set in $Command.ParameterSets) {
        $item = Add-Element $syntax 'command:syntaxItem'
        [void](Add-Element $item 'maml:name' $Command.Name)
        # Positional first, in position order, then mandatory, then the rest, as PowerShell prints a syntax line.
        $inSet = $set.Parameters | Where-Object { $_.Name -notin $CommonParameters } |
            Sort-Object @{ Expression = { $_.Position -lt 0 } }, @{ Expression = { $_.Position } }, @{ Expression = { -not $_.IsMandatory } }
        foreach ($p in $inSet) { Add-Parameter $item $Source $defaults $Command.Parameters[$p.Name] $set.Name }
    }

    $all = Add-Element $node 'command:parameters'
    foreach ($p in $parameters | Sort-Object Name) { Add-Parameter $all $Source $defaults $p $null }

    foreach ($kind in @(@('command:inputTypes', 'command:inputType', $Source.Inputs), @('command:returnValues', 'command:returnValue', $Source.Outputs))) {
        $list = Add-Element $node $kind[0]
        foreach ($entry in $kind[2]) {
            $one = Add-Element $list $kind[1]
            $type = Add-Element $one 'dev:type'
            [void](Add-Element $type 'maml:name' $entry.Type)
            [void](Add-Paragraphs $one 'maml:description' $entry.Text)
        }
    }
    if ($Source.Notes) {
        $alerts = Add-Element $node 'maml:alertSet'
        [void](Add-Paragraphs $alerts 'maml:alert' $Source.Notes)
    }

    $examples = Add-Element $node 'command:examples'
    $number = 0
    foreach ($example in $Source.Examples) {
        $number++
        $one = Add-Element $examples 'command:example'
        [void](Add-Element $one 'maml:title' "---------- $($example.Title) ----------")
        [void](Add-Element $one 'dev:code' $example.Code)
        # The empty paragraph keeps a blank line between one example's text and the next example's title.
        [void](Add-Paragraphs $one 'dev:remarks' ($example.Remarks + ''))
    }

    $links = Add-Element $node 'command:relatedLinks'
    foreach ($link in $Source.Links) {
        $navigation = Add-Element $links 'maml:navigationLink'
        [void](Add-Element $navigation 'maml:linkText' $link.Text)
        [void](Add-Element $navigation 'maml:uri' $link.Uri)
    }
}

# A bad source is the author's mistake, not the script's: one line naming file:line, no script stack.
try {
    $ModuleDirectory = (Resolve-Path $ModuleDirectory).Path
    $SourceDirectory = (Resolve-Path $SourceDirectory).Path
    $module = Import-Module $ModuleDirectory -PassThru
    $cmdlets = @($module.ExportedCmdlets.Values | Sort-Object Name)

    $sources = @(Get-ChildItem $SourceDirectory -Filter *.md | Sort-Object Name)
    foreach ($file in $sources) {
        if ($file.BaseName -notin $cmdlets.Name) {
            throw (New-SourceError $file.FullName 1 "there is no exported cmdlet $($file.BaseName) to document (cmdlets: $($cmdlets.Name -join ', '))")
        }
    }

    $document = [Xml.XmlDocument]::new()
    [void]$document.AppendChild($document.CreateXmlDeclaration('1.0', 'utf-8', $null))
    $root = $document.CreateElement('helpItems', 'http://msh')
    $root.SetAttribute('schema', 'maml')
    foreach ($prefix in $Namespaces.Keys) { $root.SetAttribute("xmlns:$prefix", $Namespaces[$prefix]) }
    [void]$document.AppendChild($root)
    foreach ($command in $cmdlets) {
        $file = Join-Path $SourceDirectory "$($command.Name).md"
        if (-not (Test-Path $file)) { throw "$($command.Name) has no help source: write $([IO.Path]::GetRelativePath((Get-Location).Path, $file))" }
        $source = Read-HelpSource $file
        Assert-ParametersMatch $source $command
        Add-Command $root $source $command
    }

    New-Item -ItemType Directory -Force $OutputDirectory | Out-Null
    $settings = [Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [Text.UTF8Encoding]::new($false) }
    $writer = [Xml.XmlWriter]::Create((Join-Path $OutputDirectory "$($module.RootModule)-Help.xml"), $settings)
    try { $document.Save($writer) } finally { $writer.Dispose() }
    Copy-Item (Join-Path $SourceDirectory 'about_*.help.txt') $OutputDirectory
    Write-Host "Help for $($cmdlets.Count) cmdlets in $OutputDirectory"
}
catch {
    [Console]::Error.WriteLine("build-help: $($_.Exception.Message)")
    exit 1
}
