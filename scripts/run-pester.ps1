# Runs the Pester tests with the Pester 5.7.1 that tests/pester/Pester.Restore.csproj put into the NuGet cache,
# and writes the counts as JSON for build.ps1 to add to the xunit ones.
param(
    [Parameter(Mandatory)] [string] $TestPath,
    [Parameter(Mandatory)] [string] $ResultPath
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'common.ps1')

Import-Module (Get-PesterManifest) -RequiredVersion 5.7.1

$config = New-PesterConfiguration
$config.Run.Path = $TestPath
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $config

[pscustomobject]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount + $result.NotRunCount
    Failures = @($result.Failed | ForEach-Object { "$($_.ExpandedPath): $(("$($_.ErrorRecord[0])" -split "`n")[0])" }) +
        @($result.FailedBlocks + $result.FailedContainers | ForEach-Object { "$($_.Name ?? $_.Item): setup failed" })
} | ConvertTo-Json | Set-Content $ResultPath
