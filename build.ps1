#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests, demonstrates and benchmarks VirtShell.
.DESCRIPTION
    Bootstrap    installs the Debian packages the other tasks need (prints the apt command when not root)
    Build        builds the solution and the guests, and lays out an importable module in out/VirtShell
    Test         every xunit and Pester test; ends with one line "N passed, N failed, N skipped"
    Demo         boots machine-defs/hello-emulated.js and shows its console
    Bench        the benchmarks in scripts/bench/, side by side with their anchors; JSON in out/bench/
    Conformance  the SingleStepTests CPU suites (-DataPath overrides the data folder), test386 as firmware, kvm-unit-tests i386,
                 each on both CPU tiers (test386 also at compileThreshold 1),
                 x87-differential (random x87/integer sequences against the host CPU), the RISC-V programs of tests/riscv-arch
    Fuzz         afl-fuzz through SharpFuzz on each fuzz target for -Seconds (default 600); see docs/fuzzing.md
    Pester       installs Pester 5.7.1 into your PowerShell module folder, for testing your own machines
    Clean        removes out/ and every bin/ and obj/
#>
[CmdletBinding()]
param(
    [ValidateSet('Bootstrap', 'Build', 'Test', 'Demo', 'Bench', 'Conformance', 'Fuzz', 'Pester', 'Clean')]
    [string] $Task = 'Build',
    [string] $Configuration = 'Release',
    # SingleStepTests folder for -Task Conformance (default: ../shared/testdata/singlestep, or $env:VIRTSHELL_SINGLESTEP_DIR)
    [string] $DataPath,
    # How long -Task Fuzz runs afl-fuzz on each target
    [int] $Seconds = 600
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleDir = Join-Path $Out 'VirtShell'
. (Join-Path $Root 'scripts/common.ps1')
. (Join-Path $Root 'scripts/bootstrap.ps1')

function Invoke-Build {
    Invoke-Native dotnet build (Join-Path $Root 'VirtShell.sln') -c $Configuration --nologo -v quiet '-clp:ErrorsOnly'
    Build-Guests
    if (Test-Path $ModuleDir) { Remove-Item $ModuleDir -Recurse -Force }
    Invoke-Native dotnet publish (Join-Path $Root 'src/VirtShell.PowerShell') -c $Configuration -o $ModuleDir --no-build --nologo -v quiet '-clp:ErrorsOnly'
    # The process each running machine lives in (virtshell-host), beside the module that starts it.
    Invoke-Native dotnet publish (Join-Path $Root 'src/VirtShell.Host') -c $Configuration -o $ModuleDir --no-build --nologo -v quiet '-clp:ErrorsOnly'
    Copy-Item (Join-Path $Root 'module/*') $ModuleDir
    # Compile-time reference only: the host's own System.Management.Automation must be the one loaded.
    Remove-Item (Join-Path $ModuleDir 'System.Management.Automation.dll') -ErrorAction Ignore
    Invoke-Native dotnet pwsh -NoProfile -File (Join-Path $Root 'scripts/build-help.ps1') -ModuleDirectory $ModuleDir
    Write-Host "Module laid out in $ModuleDir"
}

# Every guests/*.asm under machine-defs/ becomes a flat binary beside its source; the C guest kit is compiled by gcc.
function Build-Guests {
    foreach ($asm in Get-ChildItem (Join-Path $Root 'machine-defs') -Recurse -Filter *.asm) {
        $bin = [IO.Path]::ChangeExtension($asm.FullName, '.bin')
        # A guest may %include the *.inc files beside it (nasm looks there only when told with -i).
        $sources = @($asm) + @(Get-ChildItem $asm.DirectoryName -Filter *.inc)
        $newest = ($sources | Measure-Object LastWriteTimeUtc -Maximum).Maximum
        if ((Test-Path $bin) -and (Get-Item $bin).LastWriteTimeUtc -gt $newest) { continue }
        Invoke-Native nasm -f bin -i "$($asm.DirectoryName)/" -o $bin $asm.FullName
    }
    & (Join-Path $Root 'scripts/build-guest-kit.ps1')
    if (Get-Command riscv64-linux-gnu-as -ErrorAction Ignore) { & (Join-Path $Root 'scripts/build-riscv-tests.ps1') | Out-Null }
    else { Write-Warning 'riscv64-linux-gnu-as is missing (gcc-riscv64-linux-gnu), so the RISC-V conformance programs are not built' }
}

# The Debian guests the default tests boot (an i386 kernel and initramfs), made once; without them those tests skip.
# The Debian kernels and busybox initramfs images the emulated model's Linux boot tests run (linux-emulated*.js).
function Get-LinuxGuests {
    $linux = Join-Path $Out 'linux'
    $scripts = Join-Path $Root 'scripts/linux'
    $guests = @(
        @{ Name = 'i386'; Kernel = 'bzImage-686'; Initramfs = 'initramfs-i386.cpio'; Flavour = '686'; Arguments = @{ Architecture = 'i386'; NoCompression = $true } }
        @{ Name = 'amd64'; Kernel = 'vmlinux'; Initramfs = 'initramfs.cpio.gz'; Flavour = 'amd64'; Arguments = @{} }
    )
    foreach ($guest in $guests) {
        try {
            if (-not (Test-Path (Join-Path $linux $guest.Kernel))) { & (Join-Path $scripts 'Get-DebianKernel.ps1') -Flavour $guest.Flavour | Out-Null }
            if (-not (Test-Path (Join-Path $linux $guest.Initramfs))) { $a = $guest.Arguments; & (Join-Path $scripts 'New-BusyboxInitramfs.ps1') @a | Out-Null }
        } catch { Write-Warning "the $($guest.Name) Linux guest could not be made, so its boot test skips: $_" }
    }
    # The i386 guest again, on a disk that SeaBIOS and the Bochs BIOS boot through syslinux (pc-bios-disk.js).
    try {
        if (-not (Test-Path (Join-Path $linux 'bios-disk.img'))) { & (Join-Path $scripts 'New-BiosDiskImage.ps1') | Out-Null }
    } catch { Write-Warning "the BIOS disk image could not be made, so its boot tests skip: $_" }
}

function Invoke-Test {
    Get-LinuxGuests
    $results = Join-Path $Out 'test-results'
    if (Test-Path $results) { Remove-Item $results -Recurse -Force }
    New-Item -ItemType Directory $results | Out-Null

    $xunitProjects = Get-ChildItem (Join-Path $Root 'tests') -Recurse -Filter *.Tests.csproj
    foreach ($project in $xunitProjects) {
        & dotnet test $project.FullName -c $Configuration --no-build --nologo `
            --logger "trx;LogFileName=$($project.BaseName).trx" --results-directory $results | Write-Host
    }
    $xunit = Get-TrxCounts (Get-ChildItem $results -Filter *.trx)

    # Pester runs in a child process so the module it imports never locks files of this build.
    $pesterJson = Join-Path $results 'pester.json'
    $env:VIRTSHELL_MODULE_PATH = $ModuleDir
    & dotnet pwsh -NoProfile -File (Join-Path $Root 'scripts/run-pester.ps1') -TestPath (Join-Path $Root 'tests/pester') -ResultPath $pesterJson | Write-Host
    $pester = if (Test-Path $pesterJson) { Get-Content $pesterJson | ConvertFrom-Json } else { [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0; Failures = @('Pester wrote no results') } }

    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed
    $skipped = $xunit.Skipped + $pester.Skipped
    # CI keeps only the end of the log, so the failures are named again just above the counts.
    foreach ($failure in @($xunit.Failures) + @($pester.Failures)) { if ($failure) { Write-Host "FAILED: $failure" } }
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped; pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped"
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
}

function Get-TrxCounts($files) {
    $counts = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0; Failures = [System.Collections.Generic.List[string]]::new() }
    if (-not $files) { $counts.Failed = 1; $counts.Failures.Add('a test host crashed before writing its results'); return $counts }
    foreach ($file in $files) {
        [xml]$trx = Get-Content $file.FullName -Raw
        $c = $trx.TestRun.ResultSummary.Counters
        $counts.Passed += [int]$c.passed
        $counts.Failed += [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
        $counts.Skipped += [int]$c.total - [int]$c.executed   # skipped tests are not 'notExecuted' in vstest's counters
        foreach ($r in $trx.TestRun.Results.UnitTestResult | Where-Object outcome -ne 'Passed' | Where-Object outcome -ne 'NotExecuted') {
            $message = "$($r.Output.ErrorInfo.Message)".Trim() -split "`n" | Select-Object -First 3
            $counts.Failures.Add("$($r.testName) ($($r.duration)): $($message -join ' | ')")
        }
    }
    $counts
}

function Invoke-Demo {
    & dotnet pwsh -NoProfile -File (Join-Path $Root 'scripts/demo.ps1') -ModulePath $ModuleDir
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Invoke-Bench {
    $benchOut = Join-Path $Out 'bench'
    New-Item -ItemType Directory -Force $benchOut | Out-Null
    $rows = foreach ($script in Get-ChildItem (Join-Path $Root 'scripts/bench') -Filter *.bench.ps1 | Sort-Object Name) {
        Write-Host "== $($script.BaseName)"
        & dotnet pwsh -NoProfile -File $script.FullName -ModulePath $ModuleDir -OutDirectory $benchOut | Write-Host
        $json = Join-Path $benchOut "$($script.BaseName -replace '\.bench$').json"
        if (Test-Path $json) { (Get-Content $json -Raw | ConvertFrom-Json).rows }
    }
    $rows | Format-Table Benchmark, Subject, Value, Unit, Note -AutoSize | Out-String -Width 200 | Write-Host
}

function Invoke-Conformance {
    $arguments = @('--out', (Join-Path $Out 'conformance'), '--riscv-tests', (Join-Path $Out 'riscv-tests'))
    if ($DataPath) { $arguments += @('--data', $DataPath) }
    & dotnet run --project (Join-Path $Root 'tests/VirtShell.Conformance') -c $Configuration --no-build -- @arguments
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

# The copy restored from NuGet goes where Import-Module Pester finds it: the user's module folder on PSModulePath.
function Install-Pester {
    $source = Split-Path (Get-PesterManifest)
    $target = Join-Path ([Environment]::GetFolderPath('LocalApplicationData')) 'powershell/Modules/Pester/5.7.1'
    if (-not (Test-Path (Join-Path $target 'Pester.psd1'))) {
        New-Item -ItemType Directory -Force $target | Out-Null
        Copy-Item (Join-Path $source '*') $target -Recurse -Force
    }
    Write-Host "Pester 5.7.1 is in ${target}: Import-Module Pester -RequiredVersion 5.7.1"
}

function Invoke-Clean {
    Remove-Item $Out -Recurse -Force -ErrorAction Ignore
    Get-ChildItem $Root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
    Get-ChildItem (Join-Path $Root 'machine-defs') -Recurse -Filter *.bin | Remove-Item -Force
}

switch ($Task) {
    'Bootstrap' { Install-DebianPackage }
    'Build' { Install-DebianPackage; Invoke-Build }
    'Test' { Install-DebianPackage; Invoke-Build; Invoke-Test }
    'Demo' { Install-DebianPackage; Invoke-Build; Invoke-Demo }
    'Bench' { Install-DebianPackage; Invoke-Build; Invoke-Bench }
    'Conformance' { Install-DebianPackage; Invoke-Build; Invoke-Conformance }
    'Fuzz' {
        Install-DebianPackage
        & (Join-Path $Root 'scripts/fuzz.ps1') -Seconds $Seconds -Configuration $Configuration
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
    'Pester' { Install-Pester }
    'Clean' { Invoke-Clean }
}
