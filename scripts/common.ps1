# Helpers shared by build.ps1 and the scripts it runs.

# Runs a native command and stops the script when it fails (PowerShell does not, by default).
function Invoke-Native {
    # An array even for one argument: splatting a lone string would pass its characters.
    $command = $args[0]
    $arguments = @($args | Select-Object -Skip 1)
    & $command @arguments
    if ($LASTEXITCODE -ne 0) { throw "$command $($arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

# The folder NuGet restores packages into (honours NUGET_PACKAGES).
function Get-NuGetPackageRoot {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = & dotnet nuget locals global-packages --list
    ($line -replace '^global-packages:\s*', '').Trim()
}
