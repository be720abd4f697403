# Host processes (issue 16): what running each machine in a process of its own costs.
# - Start to the first console line of hello-emulated.js: in process (the engine's Machine.Start inside this pwsh, as
#   every start was before host processes) next to Start-VirtMachine, taking the store's warmed-up spare host and
#   with no spare (a host started cold); taken in turns, run by run, so a change in the load of a shared host falls
#   on all (target: at most 100 ms more).
# - A batch: $Emulated emulated machines and $Containers containers started from this pwsh, then controlled from a
#   second pwsh (each one measured, sent a line or exec'd, and stopped): the time to start the batch, the memory
#   of an idle host process by model (RSS, and its private part), and the time the second pwsh took to control them.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [int] $Runs = 10,
    [int] $Emulated = 50,
    [int] $Containers = 20
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
function Get-Median([double[]] $values) { $s = $values | Sort-Object; $s[[int][math]::Floor($s.Count / 2)] }

$work = Enter-BenchWork $OutDirectory 'host-process' $ModulePath
$json = Join-Path $OutDirectory 'host-process.json'
$definition = Join-Path $root 'machine-defs/hello-emulated.js'
$rows = @()

# In process: the engine as Start-VirtMachine used it before, in this pwsh (its assemblies load on first use).
foreach ($assembly in 'VirtShell.Models', 'VirtShell.Scripting', 'VirtShell.Control') { Add-Type -Path (Join-Path $ModulePath "$assembly.dll") }
$store = [VirtShell.Engine.Store.MachineStore]::new((Join-Path $work 'inproc-home'))
$models = [VirtShell.Models.ModelCatalog]::CreateRegistry($store.Home)
$engine = [VirtShell.Engine.Machines.VirtualizationHost]::new($store, $models, [VirtShell.Scripting.JsDefinitionLoader]::new($models.Vocabulary))
$local = $engine.Create($definition, 'inproc')
function Measure-InProcess {
    $before = if (Test-Path $local.ConsoleLogPath) { (Get-Item $local.ConsoleLogPath).Length } else { 0 }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $local.Start()
    if (-not $local.Console.WaitForOutput($before, [timespan]::FromSeconds(30), [Threading.CancellationToken]::None)) { throw 'no console output in process' }
    $watch.Elapsed.TotalMilliseconds
    $null = $local.Stop($true, [timespan]::FromSeconds(30))
}
$vm = New-VirtMachine -Definition $definition -Name hosted
$hostedLog = Join-Path $env:VIRTSHELL_HOME 'machines/hosted/console.log'
# Warm: the store's spare host (started by the start before) has warmed up and is taken; cold: no spare, a host of
# its own as the first start of a store has (VIRTSHELL_SPARE_HOST=0).
$spareSocket = Join-Path $env:VIRTSHELL_HOME 'run/spare.sock'
function Measure-Hosted([switch] $Cold) {
    if ($Cold) { $env:VIRTSHELL_SPARE_HOST = '0' }
    else {
        $wait = [Diagnostics.Stopwatch]::StartNew()
        while (-not (Test-Path $spareSocket) -and $wait.Elapsed.TotalSeconds -lt 60) { Start-Sleep -Milliseconds 50 }
    }
    $before = if (Test-Path $hostedLog) { (Get-Item $hostedLog).Length } else { 0 }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try { Start-VirtMachine $vm } finally { Remove-Item Env:VIRTSHELL_SPARE_HOST -ErrorAction Ignore }
    if (-not (Wait-BenchConsoleOutput hosted $before)) { throw 'no console output from the host process' }
    $watch.Elapsed.TotalMilliseconds
    Stop-VirtMachine $vm -TurnOff
}
$null = Measure-InProcess; $null = Measure-Hosted   # untimed: JIT and page cache for both
$inProcess = @(); $hosted = @(); $cold = @()
foreach ($i in 1..$Runs) {
    if ($i % 2) { $inProcess += Measure-InProcess; $hosted += Measure-Hosted; $cold += Measure-Hosted -Cold }
    else { $cold += Measure-Hosted -Cold; $hosted += Measure-Hosted; $inProcess += Measure-InProcess }
}
$paired = for ($i = 0; $i -lt $Runs; $i++) { $hosted[$i] - $inProcess[$i] }
$pairedCold = for ($i = 0; $i -lt $Runs; $i++) { $cold[$i] - $inProcess[$i] }
$rows += New-BenchRow 'host-process' 'start to first console line, in process (emulated)' (Get-Median $inProcess) 'ms' "median of $Runs"
$rows += New-BenchRow 'host-process' 'start to first console line, host process from the spare (emulated)' (Get-Median $hosted) 'ms' "median of $Runs"
$rows += New-BenchRow 'host-process' 'start to first console line, cold host process (emulated)' (Get-Median $cold) 'ms' "median of $Runs; VIRTSHELL_SPARE_HOST=0"
$rows += New-BenchRow 'host-process' 'host process overhead, spare (emulated)' (Get-Median $paired) 'ms' 'median of paired differences (target <= 100)'
$rows += New-BenchRow 'host-process' 'host process overhead, cold (emulated)' (Get-Median $pairedCold) 'ms' 'median of paired differences (the first start of a store)'

# The batch.
$containerModel = Get-VirtModel -Name container
if (-not $containerModel.Available) { $Containers = 0 }
$containerDefinition = Join-Path $work 'batch-container.js'
@"
import { machine } from 'virtshell';
export default machine({
  name: 'batch-container', model: 'container', memory: '32M',
  container: { rootfs: { busybox: true }, process: { args: ['/bin/sh', '-c', 'echo up; while true; do sleep 1; done'] } },
});
"@ | Set-Content $containerDefinition
$names = @(foreach ($i in 1..$Emulated) { (New-VirtMachine -Definition $definition -Name "e$i").Name }) +
    @(foreach ($i in 1..$Containers) { (New-VirtMachine -Definition $containerDefinition -Name "c$i").Name })
$watch = [Diagnostics.Stopwatch]::StartNew()
$names | ForEach-Object -ThrottleLimit 8 -Parallel {
    Import-Module $using:ModulePath
    Start-VirtMachine -Name $_
}
foreach ($name in $names) { if (-not (Wait-BenchConsoleOutput $name)) { throw "$name printed nothing" } }
$batchMs = $watch.Elapsed.TotalMilliseconds
Start-Sleep -Seconds 2   # idle: the guests wait for input, the containers sleep
# RSS counts the runtime's and libraries' file pages, which every host process shares; private pages are what one
# more machine costs.
$memory = @{}
foreach ($m in Get-VirtMachine) {
    if ($m.Name -notmatch '^[ec]\d+$') { continue }
    $kb = @{}
    foreach ($line in Get-Content "/proc/$($m.OwnerProcessId)/smaps_rollup") {
        if ($line -match '^(\w+):\s+(\d+) kB') { $kb[$Matches[1]] = [long]$Matches[2] }
    }
    if (-not $memory.ContainsKey($m.Model)) { $memory[$m.Model] = @{ Rss = [Collections.Generic.List[double]]::new(); Private = [Collections.Generic.List[double]]::new() } }
    $memory[$m.Model].Rss.Add($kb['Rss'] / 1024.0)
    $memory[$m.Model].Private.Add(($kb['Private_Clean'] + $kb['Private_Dirty']) / 1024.0)
}
$control = @"
`$watch = [Diagnostics.Stopwatch]::StartNew()
foreach (`$m in Get-VirtMachine -Name e*, c*) {
    `$null = Measure-VirtMachine `$m
    if (`$m.Model -eq 'container') { `$null = Invoke-VirtCommand `$m -Command 'true' } else { Send-VirtConsole `$m -Line 'hi' }
    Stop-VirtMachine `$m -TurnOff
}
`$watch.Elapsed.TotalMilliseconds
"@
$controlMs = [double](& dotnet pwsh -NoProfile -Command "Import-Module '$ModulePath'; $control" | Select-Object -Last 1)
$stillLive = @(Get-VirtMachine -Name e*, c* | Where-Object State -ne 'Stopped').Count
Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false

$rows += New-BenchRow 'host-process' "batch start: $Emulated emulated + $Containers containers" $batchMs 'ms' 'Start-VirtMachine from 8 runspaces, until every machine printed'
foreach ($model in $memory.Keys) {
    $count = $memory[$model].Rss.Count
    $rows += New-BenchRow 'host-process' "idle host process RSS ($model)" (Get-Median $memory[$model].Rss) 'MiB' "median of $count"
    $rows += New-BenchRow 'host-process' "idle host process private memory ($model)" (Get-Median $memory[$model].Private) 'MiB' "median of $count; RSS less the pages shared with other processes"
}
$rows += New-BenchRow 'host-process' 'second pwsh: measure + send/exec + stop each' $controlMs 'ms' "$($names.Count) machines; $stillLive not Stopped afterwards"
Save-BenchRows $json $rows
