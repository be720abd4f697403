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
    Conformance  the SingleStepTests CPU suites (-DataPath overrides the data folder)
    Clean        removes out/ and every bin/ and obj/
#>
[CmdletBinding()]
param(
    [ValidateSet('Bootstrap', 'Build', 'Test', 'Demo', 'Bench', 'Conformance', 'Clean')]
    [string] $Task = 'Build',
    [string] $Configuration = 'Release',
    # SingleStepTests folder for -Task Conformance (default: ../shared/testdata/singlestep, or $env:VIRTSHELL_SINGLESTEP_DIR)
    [string] $DataPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleDir = Join-Path $Out 'VirtShell'
. (Join-Path $Root 'scripts/common.ps1')

# Debian packages, and which command proves each is there.
$DebianPackages = [ordered]@{
    'nasm'             = 'nasm'              # assembles the guests from source
    'gcc'              = 'gcc'               # compiles the guest kit (-m32 -ffreestanding; no multilib needed)
    'binutils'         = 'objcopy'           # links the kit and makes its flat image
    'busybox-static'   = 'busybox'           # container rootfs
    'runc'             = 'runc'              # container model's OCI runtime
    'iproute2'         = 'ip'                # container veth networks
    'qemu-system-x86'  = 'qemu-system-i386'  # speed anchor
    'bochs'            = 'bochs'             # speed anchor
    'bochsbios'        = $null
    'vgabios'          = $null
}

function Invoke-Bootstrap {
    $missing = @($DebianPackages.Keys | Where-Object {
            (& dpkg-query -W -f='${Status}' $_ 2>$null) -notmatch 'install ok installed'
        })
    if ($missing.Count -eq 0) { return }
    $command = "apt-get update && apt-get install -y --no-install-recommends $($missing -join ' ')"
    if ((& id -u) -ne '0') {
        Write-Warning "Missing Debian packages. Run as root:`n  sudo sh -c '$command'"
        return
    }
    Write-Host "Installing $($missing -join ', ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & sh -c "$command" | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "apt-get failed ($LASTEXITCODE): $command" }
}

function Invoke-Build {
    Invoke-Native dotnet build (Join-Path $Root 'VirtShell.sln') -c $Configuration --nologo -v quiet '-clp:ErrorsOnly'
    Build-Guests
    if (Test-Path $ModuleDir) { Remove-Item $ModuleDir -Recurse -Force }
    Invoke-Native dotnet publish (Join-Path $Root 'src/VirtShell.PowerShell') -c $Configuration -o $ModuleDir --no-build --nologo -v quiet '-clp:ErrorsOnly'
    Copy-Item (Join-Path $Root 'module/*') $ModuleDir
    # Compile-time reference only: the host's own System.Management.Automation must be the one loaded.
    Remove-Item (Join-Path $ModuleDir 'System.Management.Automation.dll') -ErrorAction Ignore
    Write-Host "Module laid out in $ModuleDir"
}

# Every guests/*.asm under machine-defs/ becomes a flat binary beside its source; the C guest kit is compiled by gcc.
function Build-Guests {
    if (-not (Get-Command nasm -ErrorAction Ignore)) { throw 'nasm is missing: run ./build.ps1 -Task Bootstrap' }
    foreach ($asm in Get-ChildItem (Join-Path $Root 'machine-defs') -Recurse -Filter *.asm) {
        $bin = [IO.Path]::ChangeExtension($asm.FullName, '.bin')
        if ((Test-Path $bin) -and (Get-Item $bin).LastWriteTimeUtc -gt $asm.LastWriteTimeUtc) { continue }
        Invoke-Native nasm -f bin -o $bin $asm.FullName
    }
    & (Join-Path $Root 'scripts/build-guest-kit.ps1')
}

# The Debian guests the default tests boot (an i386 kernel and initramfs), made once; without them those tests skip.
function Get-LinuxGuests {
    $linux = Join-Path $Out 'linux'
    try {
        if (-not (Test-Path (Join-Path $linux 'bzImage-686'))) { & (Join-Path $Root 'scripts/linux/Get-DebianKernel.ps1') -Flavour 686 | Out-Null }
        if (-not (Test-Path (Join-Path $linux 'initramfs-i386.cpio'))) { & (Join-Path $Root 'scripts/linux/New-BusyboxInitramfs.ps1') -Architecture i386 -NoCompression | Out-Null }
    } catch { Write-Warning "the i386 Linux guest could not be made, so its boot test skips: $_" }
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
    $pester = if (Test-Path $pesterJson) { Get-Content $pesterJson | ConvertFrom-Json } else { [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }

    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed
    $skipped = $xunit.Skipped + $pester.Skipped
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped; pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped"
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
}

function Get-TrxCounts($files) {
    $counts = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    if (-not $files) { $counts.Failed = 1; return $counts }   # a test host that crashed writes no trx
    foreach ($file in $files) {
        [xml]$trx = Get-Content $file.FullName -Raw
        $c = $trx.TestRun.ResultSummary.Counters
        $counts.Passed += [int]$c.passed
        $counts.Failed += [int]$c.failed + [int]$c.error + [int]$c.timeout + [int]$c.aborted
        $counts.Skipped += [int]$c.total - [int]$c.executed   # skipped tests are not 'notExecuted' in vstest's counters
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
    $arguments = @('--out', (Join-Path $Out 'conformance'))
    if ($DataPath) { $arguments += @('--data', $DataPath) }
    & dotnet run --project (Join-Path $Root 'tests/VirtShell.Conformance') -c $Configuration --no-build -- @arguments
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Invoke-Clean {
    Remove-Item $Out -Recurse -Force -ErrorAction Ignore
    Get-ChildItem $Root -Recurse -Directory -Include bin, obj | Remove-Item -Recurse -Force
    Get-ChildItem (Join-Path $Root 'machine-defs') -Recurse -Filter *.bin | Remove-Item -Force
}

switch ($Task) {
    'Bootstrap' { Invoke-Bootstrap }
    'Build' { Invoke-Build }
    'Test' { Invoke-Bootstrap; Invoke-Build; Invoke-Test }
    'Demo' { Invoke-Bootstrap; Invoke-Build; Invoke-Demo }
    'Bench' { Invoke-Bootstrap; Invoke-Build; Invoke-Bench }
    'Conformance' { Invoke-Build; Invoke-Conformance }
    'Clean' { Invoke-Clean }
}
