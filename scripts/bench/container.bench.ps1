# Container start-up: Start-VirtMachine to the container's first console line, next to bare `runc run` of the same
# bundle (target: at most 10 ms more), and 20 containers started at once (time until all of them printed).
# Ours and bare runc take turns, run by run (the order alternating), so a change in the load of a shared host falls
# on both alike; the overhead is given as the difference of the medians and as the median of the paired differences.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [int] $Runs = 50,
    [int] $Swarm = 20
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

function Get-Median([double[]] $values) { $s = $values | Sort-Object; $s[[int][math]::Floor($s.Count / 2)] }

$env:VIRTSHELL_HOME = Join-Path $OutDirectory 'container-work'
if (Test-Path $env:VIRTSHELL_HOME) { Remove-Item $env:VIRTSHELL_HOME -Recurse -Force }
New-Item -ItemType Directory $env:VIRTSHELL_HOME | Out-Null
Import-Module $ModulePath
$json = Join-Path $OutDirectory 'container.json'
$model = Get-VirtModel -Name container
if (-not $model.Available) {
    Save-BenchRows $json @(New-BenchRow 'container' 'Start-VirtMachine to first line' 0 'ms' "skipped: $($model.Reason)")
    return
}

$definition = Join-Path $env:VIRTSHELL_HOME 'bench-container.js'
@"
import { machine } from 'virtshell';
export default machine({
  name: 'cbench', model: 'container', memory: '64M',
  container: {
    rootfs: { busybox: true },
    process: { args: ['/bin/sh', '-c', 'echo up; while true; do sleep 1; done'] },
  },
});
"@ | Set-Content $definition

# Ours: the same machine started and turned off again, timed from the call to the first byte on its console
# (the console's own wait, so no polling interval of Receive-VirtConsole is counted).
$vm = New-VirtMachine -Definition $definition
$consoleLog = Join-Path $env:VIRTSHELL_HOME 'machines/cbench/console.log'
function Measure-Ours {
    $before = if (Test-Path $consoleLog) { (Get-Item $consoleLog).Length } else { 0 }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    Start-VirtMachine $vm
    if (-not (Wait-BenchConsoleOutput cbench $before ([timespan]::FromSeconds(10)))) { throw 'no console output' }
    $watch.Elapsed.TotalMilliseconds
    Stop-VirtMachine $vm -TurnOff
}
# One start first, untimed: it builds the busybox image and writes the bundle that bare runc runs too.
$null = Measure-Ours

# Bare runc: the bundle our engine wrote, on an overlay of the same image, with its own id and cgroup.
$machineDir = Join-Path $env:VIRTSHELL_HOME 'machines/cbench'
$bare = Join-Path $env:VIRTSHELL_HOME 'bare'
foreach ($d in 'upper', 'work', 'rootfs') { New-Item -ItemType Directory -Force (Join-Path $bare $d) | Out-Null }
$config = Get-Content (Join-Path $machineDir 'bundle/config.json') -Raw | ConvertFrom-Json -Depth 50
$image = (Get-ChildItem (Join-Path $env:VIRTSHELL_HOME 'images') -Directory -Filter 'busybox-*')[0].FullName
& mount -t overlay overlay -o "lowerdir=$image,upperdir=$bare/upper,workdir=$bare/work" "$bare/rootfs"
$config.root.path = "$bare/rootfs"
$config.linux.cgroupsPath = '/virtshell/bench-bare'
# Bare runc makes its own /dev, as runc does by default (ours binds the engine's, which is gone once our run ends).
$config.mounts | Where-Object destination -eq '/dev' | ForEach-Object { $_.type = 'tmpfs'; $_.source = 'tmpfs'; $_.options = @('nosuid', 'strictatime', 'mode=755', 'size=65536k') }
$config | ConvertTo-Json -Depth 50 | Set-Content (Join-Path $bare 'config.json')
$runc = (Get-Command runc -ErrorAction Ignore)?.Source ?? '/usr/sbin/runc'
$runcRoot = Join-Path $bare 'state'
function Measure-Bare {
    $psi = [Diagnostics.ProcessStartInfo]::new($runc)
    foreach ($a in '--root', $runcRoot, 'run', '--bundle', $bare, 'bare') { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardInput = $true
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $p = [Diagnostics.Process]::Start($psi)
    $null = $p.StandardOutput.ReadLine()
    $watch.Elapsed.TotalMilliseconds
    & $runc --root $runcRoot kill bare KILL
    $p.WaitForExit()
    & $runc --root $runcRoot delete --force bare 2>$null
}

$ours = [Collections.Generic.List[double]]::new()
$bareRuns = [Collections.Generic.List[double]]::new()
try {
    foreach ($i in 1..$Runs) {
        if ($i % 2) { $ours.Add((Measure-Ours)); $bareRuns.Add((Measure-Bare)) }
        else { $bareRuns.Add((Measure-Bare)); $ours.Add((Measure-Ours)) }
    }
}
finally {
    & umount "$bare/rootfs"
}

# A swarm: $Swarm machines started at once (one runspace each, a host process each), timed until every one has printed.
$swarmNames = foreach ($i in 1..$Swarm) { (New-VirtMachine -Definition $definition -Name "swarm-$i").Name }
$watch = [Diagnostics.Stopwatch]::StartNew()
$swarmNames | ForEach-Object -ThrottleLimit $Swarm -Parallel {
    Import-Module $using:ModulePath
    Start-VirtMachine -Name $_
}
foreach ($m in Get-VirtMachine 'swarm-*') {
    if (-not (Wait-BenchConsoleOutput $m.Name)) { throw "$($m.Name) printed nothing" }
}
$swarmMs = $watch.Elapsed.TotalMilliseconds
Get-VirtMachine 'swarm-*' | Stop-VirtMachine -TurnOff
Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false

$oursMedian = Get-Median $ours
$bareMedian = Get-Median $bareRuns
$pairedMedian = Get-Median @(foreach ($i in 0..($Runs - 1)) { $ours[$i] - $bareRuns[$i] })
$rows = @(
    New-BenchRow 'container' 'Start-VirtMachine to first line' $oursMedian 'ms' "median of $Runs (restarts of one machine)"
    New-BenchRow 'container' 'bare runc run to first line' $bareMedian 'ms' "median of $Runs, same bundle and image, taking turns with ours"
    New-BenchRow 'container' 'our overhead over bare runc' ($oursMedian - $bareMedian) 'ms' 'difference of the medians; target <= 10'
    New-BenchRow 'container' 'our overhead, paired' $pairedMedian 'ms' 'median of the run-by-run differences'
    New-BenchRow 'container' "$Swarm containers started at once" $swarmMs 'ms' "started in parallel runspaces, until all printed"
)
Save-BenchRows $json $rows
Remove-Item $env:VIRTSHELL_HOME -Recurse -Force
