#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Fuzzes the engine with afl-fuzz through SharpFuzz (build.ps1 -Task Fuzz): per target, a run of -Seconds, then
    executions per second, corpus size and what was found.
.DESCRIPTION
    The harness (tests/VirtShell.Fuzz) is published to out/fuzz/bin and its VirtShell assemblies instrumented there
    with the sharpfuzz tool (.config/dotnet-tools.json), so the ordinary build stays as it is. Each target starts from
    tests/fuzz/<target>/corpus; afl-fuzz works in out/fuzz/<target>. Crashes and hangs are copied into
    tests/fuzz/<target>/crashes (named by content, so a finding is kept once), where the default test run replays them;
    the corpus and afl's queue are minimized together with afl-cmin and what it keeps of the queue is written back to
    tests/fuzz/<target>/corpus as afl-<sha1> (the hand-written seeds there always stay).
    See docs/fuzzing.md.
#>
[CmdletBinding()]
param(
    [int] $Seconds = 600,
    [string[]] $Target = @('definition', 'virtio', 'interpreter'),
    [string] $Configuration = 'Release',
    # Leave tests/fuzz/<target>/corpus as it is.
    [switch] $NoCorpusUpdate
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = Resolve-Path (Join-Path $PSScriptRoot '..')
. (Join-Path $Root 'scripts/common.ps1')

# -File hands a comma-separated list over as one string.
$Target = @($Target | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
foreach ($name in $Target) {
    if (-not (Test-Path (Join-Path $Root "tests/fuzz/$name/corpus"))) { throw "unknown fuzz target '$name': tests/fuzz/$name/corpus does not exist" }
}

$FuzzOut = Join-Path $Root 'out/fuzz'
$Bin = Join-Path $FuzzOut 'bin'
$Harness = Join-Path $Bin 'VirtShell.Fuzz.dll'
# afl-cmin wants the program as a path, not a name to look up.
$Dotnet = (Get-Command dotnet).Source

foreach ($tool in 'afl-fuzz', 'afl-cmin') {
    if (-not (Get-Command $tool -ErrorAction Ignore)) {
        throw "$tool is not on PATH: the Fuzz task needs AFL++ (Debian package afl++; ./build.ps1 -Task Bootstrap installs it)"
    }
}

# A fresh copy each time: sharpfuzz rewrites the assemblies in place and refuses ones it has already instrumented.
if (Test-Path $Bin) { Remove-Item $Bin -Recurse -Force }
Invoke-Native dotnet publish (Join-Path $Root 'tests/VirtShell.Fuzz') -c $Configuration -o $Bin --nologo -v quiet '-clp:ErrorsOnly'
foreach ($assembly in Get-ChildItem $Bin -Filter 'VirtShell.*.dll' | Where-Object Name -ne 'VirtShell.Fuzz.dll') {
    Invoke-Native dotnet tool run sharpfuzz $assembly.FullName | Out-Null
}

# afl-fuzz as root on a shared machine: no CPU governor to check, no core to bind, no terminal UI. The .NET target is
# not a native AFL binary (SKIP_BIN_CHECK), needs seconds to start (FORKSRV_INIT_TMOUT), and is not a crash handler
# problem of ours (core_pattern).
$env:AFL_SKIP_BIN_CHECK = '1'
$env:AFL_SKIP_CPUFREQ = '1'
$env:AFL_NO_AFFINITY = '1'
$env:AFL_NO_UI = '1'
$env:AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES = '1'
$env:AFL_FORKSRV_INIT_TMOUT = '60000'
$env:AFL_IGNORE_UNKNOWN_ENVS = '1'

# Per input afl allows twice the harness's own hang limit: the harness's watchdog saves a hung input before afl would kill it.
$timeoutMs = 10000

function Get-FuzzerStats($path) {
    $stats = @{}
    if (Test-Path $path) {
        foreach ($line in Get-Content $path) {
            if ($line -match '^\s*(\S+)\s*:\s*(.*)$') { $stats[$Matches[1]] = $Matches[2].Trim() }
        }
    }
    $stats
}

# Copies each file into $destination under a name made from its content, so the same input is kept once.
function Save-Finding($files, $destination, $prefix) {
    $saved = 0
    foreach ($file in $files) {
        $hash = (Get-FileHash $file.FullName -Algorithm SHA1).Hash.Substring(0, 16).ToLowerInvariant()
        $to = Join-Path $destination "$prefix-$hash"
        if (-not (Test-Path $to)) { Copy-Item $file.FullName $to; $saved++ }
    }
    $saved
}

$report = foreach ($name in $Target) {
    $source = Join-Path $Root "tests/fuzz/$name"
    $corpus = Join-Path $source 'corpus'
    $crashes = Join-Path $source 'crashes'
    New-Item -ItemType Directory -Force $crashes | Out-Null
    $work = Join-Path $FuzzOut $name
    if (Test-Path $work) { Remove-Item $work -Recurse -Force }
    $findings = Join-Path $work 'findings'
    $hangs = Join-Path $work 'watchdog-hangs'
    $log = Join-Path $work 'afl-fuzz.log'
    New-Item -ItemType Directory -Force $work | Out-Null

    Write-Host "== ${name}: afl-fuzz for $Seconds s (log: $log)"
    $env:VIRTSHELL_FUZZ_HANGS = $hangs
    & afl-fuzz -i $corpus -o $findings -t $timeoutMs -m none -V $Seconds -- $Dotnet $Harness $name *> $log
    $aflExit = $LASTEXITCODE
    Remove-Item Env:VIRTSHELL_FUZZ_HANGS

    $default = Join-Path $findings 'default'
    $stats = Get-FuzzerStats (Join-Path $default 'fuzzer_stats')
    $note = ''
    if (-not $stats.Count) {
        $note = "afl-fuzz ended (exit $aflExit) before it wrote statistics; the end of its log:`n" + ((Get-Content $log -Tail 15) -join "`n")
    } elseif ($aflExit -ne 0) {
        $note = "afl-fuzz stopped early (exit $aflExit), probably a hang or a crash that killed the .NET process: $((Get-Content $log -Tail 3) -join ' ')"
    }

    if (Test-Path "$hangs.log") { $note += "`nwatchdog: " + ((Get-Content "$hangs.log") -join "`n") }

    $crashFiles = @(Get-ChildItem (Join-Path $default 'crashes') -Filter 'id*' -ErrorAction Ignore)
    $hangFiles = @(Get-ChildItem (Join-Path $default 'hangs') -Filter 'id*' -ErrorAction Ignore) + @(Get-ChildItem $hangs -File -ErrorAction Ignore)
    # An input that killed the process itself (stack overflow, FailFast) is the one afl was running.
    $current = Join-Path $default '.cur_input'
    if ($aflExit -ne 0 -and $stats.Count -and (Test-Path $current) -and -not (Get-ChildItem $hangs -File -ErrorAction Ignore)) {
        $crashFiles += Get-Item $current
    }
    $newCrashes = Save-Finding $crashFiles $crashes 'crash'
    $newHangs = Save-Finding $hangFiles $crashes 'hang'

    $queue = Join-Path $default 'queue'
    if (-not $NoCorpusUpdate -and (Test-Path $queue)) {
        # afl-cmin keeps the smallest set of inputs that covers every edge the corpus and afl's queue reach.
        $all = Join-Path $work 'cmin-in'
        $minimized = Join-Path $work 'cmin-out'
        New-Item -ItemType Directory -Force $all | Out-Null
        Get-ChildItem $corpus -File | ForEach-Object { Copy-Item $_.FullName (Join-Path $all $_.Name) }
        Get-ChildItem $queue -File | ForEach-Object {
            $hash = (Get-FileHash $_.FullName -Algorithm SHA1).Hash.Substring(0, 16).ToLowerInvariant()
            Copy-Item $_.FullName (Join-Path $all "afl-$hash")
        }
        & afl-cmin -i $all -o $minimized -t $timeoutMs -m none -- $Dotnet $Harness $name *> (Join-Path $work 'afl-cmin.log')
        $kept = @(Get-ChildItem $minimized -File -ErrorAction Ignore)
        if ($LASTEXITCODE -eq 0 -and $kept.Count) {
            # The hand-written seeds stay whatever afl-cmin thought of them; what afl found (afl-*) is replaced.
            Get-ChildItem $corpus -File -Filter 'afl-*' | Where-Object { -not (Test-Path (Join-Path $minimized $_.Name)) } | Remove-Item
            $kept | Where-Object Name -like 'afl-*' | ForEach-Object { Copy-Item $_.FullName (Join-Path $corpus $_.Name) -Force }
        } else {
            Write-Warning "${name}: afl-cmin failed, corpus left as it was (see $(Join-Path $work 'afl-cmin.log'))"
        }
    }

    $corpusFiles = @(Get-ChildItem $corpus -File)
    $runTime = if ($stats.ContainsKey('run_time')) { [double]$stats['run_time'] } else { 0 }
    $execs = if ($stats.ContainsKey('execs_done')) { [double]$stats['execs_done'] } else { 0 }
    [pscustomobject]@{
        Target = $name
        Seconds = [int]$runTime
        Executions = [long]$execs
        'Exec/s' = if ($runTime -gt 0) { [math]::Round($execs / $runTime, 1) } else { 0 }
        'Edges' = if ($stats.ContainsKey('edges_found')) { [int]$stats['edges_found'] } else { 0 }
        'Queue' = if ($stats.ContainsKey('corpus_count')) { [int]$stats['corpus_count'] } else { 0 }
        'Corpus files' = $corpusFiles.Count
        'Corpus bytes' = ($corpusFiles | Measure-Object Length -Sum).Sum
        Crashes = $crashFiles.Count
        Hangs = $hangFiles.Count
        'New in crashes/' = $newCrashes + $newHangs
        Note = $note
    }
}

$report | Select-Object -Property * -ExcludeProperty Note | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
foreach ($row in $report | Where-Object Note) { Write-Host "$($row.Target): $($row.Note)" }
$found = ($report | Measure-Object Crashes, Hangs -Sum | Measure-Object Sum -Sum).Sum
if ($found -gt 0 -or ($report | Where-Object Note)) {
    Write-Host "Findings are in tests/fuzz/<target>/crashes; reproduce one with: dotnet $Harness <target> FILE"
    exit 1
}
