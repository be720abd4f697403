# Container start-up: Start-VirtMachine to the container's first console line, next to bare `runc run` of the same
# bundle (target: at most 10 ms more), and 20 containers started at once (time until all of them printed). Checkpoint
# and restore time next to bare runc's, where CRIU works.
# Ours and bare runc take turns, run by run (the order alternating), so a change in the load of a shared host falls
# on both alike; the overhead is given as the difference of the medians and as the median of the paired differences.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [int] $Runs = 50,
    [int] $Swarm = 20,
    [int] $CheckpointRuns = 10
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
# A bare runc process with its stdio on pipes of ours, as the engine runs it (CRIU puts checkpointed pipes back on pipes).
function Start-BareRunc([string[]] $arguments) {
    $psi = [Diagnostics.ProcessStartInfo]::new($runc)
    foreach ($a in @('--root', $runcRoot) + $arguments) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    [Diagnostics.Process]::Start($psi)
}
function Measure-Bare {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $p = Start-BareRunc 'run', '--bundle', $bare, 'bare'
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

# Checkpoint and restore: the engine's (no cmdlet calls it yet, so its runtime is driven here as Machine would drive it)
# next to bare `runc checkpoint`/`runc restore` of the same bundle and image (ours' runs first, then bare runc's). Ours
# adds the freeze, the upper-layer archive and the manifest's hashes (checkpoint); the checks, the upper-layer unpack,
# mounts and network (restore). Restore is timed until runc has restored the container.
function Measure-Checkpoints {
    $criu = [VirtShell.Containers.Checkpoint.CriuCheck]::Find()
    $reason = [VirtShell.Containers.Checkpoint.CriuCheck]::UnavailableReason($criu)
    if ($reason) {
        return @('checkpoint', 'restore' | ForEach-Object { New-BenchRow 'container' "$_ (ours and bare runc)" 0 'ms' "skipped: $reason" })
    }
    $spec = (New-VirtMachine -Definition $definition -Name ckbench).Spec
    $containerModel = [VirtShell.Models.Container.ContainerModel]::new($env:VIRTSHELL_HOME)
    $checkpoints = Join-Path $env:VIRTSHELL_HOME 'checkpoints'
    $log = [Action[string]] [Diagnostics.Debug]::WriteLine
    function Get-CriuErrors([string] $log) { (Select-String -Path $log -Pattern 'Error \(' | Select-Object -Last 3).Line -join '; ' }
    function Start-Runtime([scriptblock] $create) {
        $console = [VirtShell.Engine.Console.ConsoleChannel]::new([NullString]::Value)
        $services = [VirtShell.Engine.Models.MachineServices]::new($console, [Action[VirtShell.Engine.Machines.MachineExit]] { }, $log)
        $runtime = & $create $services
        $run = [Threading.Tasks.Task]::Run([Func[VirtShell.Engine.Machines.MachineExit]] $runtime.Run)
        while ($runtime.InitPid -eq 0 -and -not $run.IsCompleted) { [Threading.Thread]::Sleep(1) }
        if ($run.IsCompleted) { throw "the container did not start: $($run.Result.Detail)" }
        [pscustomobject]@{ Runtime = $runtime; Run = $run; Console = $console }
    }
    function Stop-Runtime($started) {
        $started.Runtime.RequestStop([VirtShell.Engine.Machines.MachineExit]::new('StoppedByUser'))
        $null = $started.Run.Wait([timespan]::FromSeconds(30))
        $started.Runtime.Dispose()
        $started.Console.Dispose()
    }
    $ours = foreach ($i in 1..$CheckpointRuns) {
        $folder = Join-Path $checkpoints "ours-$i"
        $first = Start-Runtime { param($services) $containerModel.CreateRuntime($spec, $services) }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $first.Runtime.Checkpoint($folder, $false)
        $checkpointMs = $watch.Elapsed.TotalMilliseconds
        Stop-Runtime $first
        $watch.Restart()
        $second = Start-Runtime { param($services) $containerModel.Restore($spec, $services, $folder) }
        $restoreMs = $watch.Elapsed.TotalMilliseconds
        Stop-Runtime $second
        [pscustomobject]@{ Checkpoint = $checkpointMs; Restore = $restoreMs; Bytes = (Get-ChildItem $folder -Recurse -File | Measure-Object Length -Sum).Sum }
    }
    & mount -t overlay overlay -o "lowerdir=$image,upperdir=$bare/upper,workdir=$bare/work" "$bare/rootfs"
    try {
        $bareRuns = foreach ($i in 1..$CheckpointRuns) {
            $images = Join-Path $checkpoints "bare-$i"
            $process = Start-BareRunc 'run', '--detach', '--bundle', $bare, 'bare'
            $process.WaitForExit()
            $watch = [Diagnostics.Stopwatch]::StartNew()
            & $runc --root $runcRoot --criu $criu checkpoint --image-path $images --work-path "$images-work" bare
            $checkpointMs = $watch.Elapsed.TotalMilliseconds
            if ($LASTEXITCODE) { throw "bare runc checkpoint failed: $(Get-CriuErrors "$images-work/dump.log")" }
            $watch.Restart()
            $process = Start-BareRunc '--criu', $criu, 'restore', '--detach', '--bundle', $bare, '--image-path', $images, '--work-path', "$images-work", 'bare'
            $process.WaitForExit()
            $restoreMs = $watch.Elapsed.TotalMilliseconds
            if ($process.ExitCode) { throw "bare runc restore failed: $(Get-CriuErrors "$images-work/restore.log")" }
            & $runc --root $runcRoot delete --force bare 2>$null
            [pscustomobject]@{ Checkpoint = $checkpointMs; Restore = $restoreMs; Bytes = (Get-ChildItem $images -Recurse -File | Measure-Object Length -Sum).Sum }
        }
    }
    finally {
        & $runc --root $runcRoot delete --force bare 2>$null
        & umount "$bare/rootfs"
    }
    foreach ($what in 'Checkpoint', 'Restore') {
        $o = Get-Median $ours.$what
        $b = Get-Median $bareRuns.$what
        New-BenchRow 'container' "$($what.ToLower()), ours" $o 'ms' "median of $CheckpointRuns"
        New-BenchRow 'container' "$($what.ToLower()), bare runc" $b 'ms' "median of $CheckpointRuns, same bundle and image"
        New-BenchRow 'container' "$($what.ToLower()), ours / bare runc" ($o / $b) 'x' 'ratio of the medians'
    }
    New-BenchRow 'container' 'checkpoint size, ours' ((Get-Median $ours.Bytes) / 1KB) 'KiB' 'CRIU images + upper.tar + config.json + manifest + log'
    New-BenchRow 'container' 'checkpoint size, bare runc' ((Get-Median $bareRuns.Bytes) / 1KB) 'KiB' 'CRIU images'
}

$checkpointRows = Measure-Checkpoints
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
    $checkpointRows
)
Save-BenchRows $json $rows
Remove-Item $env:VIRTSHELL_HOME -Recurse -Force
