# Saving and restoring a machine's state: time and file size for a 256 MiB guest that has written 32 MiB
# (guests/touch.asm: half noise, half counters), on the emulated model, next to QEMU TCG's `migrate "exec:cat > file"`
# and `-incoming "exec:cat file"` of the same image in the same run. Each side is measured Rounds times; medians.
#
# What each figure covers. VirtShell save: VirtualMachineRuntime.SaveState of the paused machine into a file (zero
# pages skipped, the rest deflated). VirtShell restore: SavedState.Load of the file and EmulatedModel.Restore, a
# machine built from the definition and filled from the state, ready to run (the definition is loaded beforehand, as
# a host process holding it would). QEMU save: from the migrate command to query-migrate's "completed". QEMU
# restore: from starting the process with -incoming to query-status leaving "inmigrate" (so it includes QEMU's start-up,
# which VirtShell's in-process figure does not; QEMU cannot restore without a process of its own).
# The engine figures drive the runtime directly; the -cmdlets rows go through Checkpoint-VirtMachine,
# Restore-VirtCheckpoint and Start-VirtMachine, the machine in its host process.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [int] $MemoryMiB = 256,
    [int] $TouchMiB = 32,
    [int] $Rounds = 3
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
. (Join-Path $PSScriptRoot '../common.ps1')

$work = Enter-BenchWork $OutDirectory 'checkpoint' $ModulePath
$moduleDir = Split-Path (Get-Module VirtShell).Path
foreach ($assembly in 'VirtShell.Engine', 'VirtShell.Scripting', 'VirtShell.Models') {
    [void][Reflection.Assembly]::LoadFrom((Join-Path $moduleDir "$assembly.dll"))
}

$image = Join-Path $work 'touch.img'
Invoke-Native nasm -f bin "-DTOUCH_MIB=$TouchMiB" -o $image (Join-Path $PSScriptRoot 'guests/touch.asm')
# QEMU boots it as a 1.44 MB floppy; the extra zeroes are harmless to the boot-sector loader.
$stream = [IO.File]::OpenWrite($image); $stream.SetLength(1474560); $stream.Dispose()

function Get-Median([double[]] $Values) { ($Values | Sort-Object)[[int][math]::Floor($Values.Count / 2)] }

# ---- VirtShell: the emulated model through the engine API ----

$definition = Join-Path $work 'touch.js'
@"
import { machine, uart16550 } from 'virtshell';
export default machine({
  name: 'checkpoint-bench', model: 'emulated', memory: '${MemoryMiB}M',
  devices: [ uart16550({ port: 0x3f8, irq: 4, console: true }) ],
  boot: { type: 'bootSector', image: '$image' },
});
"@ | Set-Content $definition
$registry = [VirtShell.Models.ModelCatalog]::CreateRegistry($env:VIRTSHELL_HOME)
$loaded = [VirtShell.Scripting.JsDefinitionLoader]::new($registry.Vocabulary, $null).Load($definition, [NullString]::Value)
$model = [VirtShell.Models.Emulated.EmulatedModel]::new($null)

# A runtime with its vCPU on a task. Every delegate is a bound .NET method, so no script runs on the vCPU thread; the
# guest never powers off and logs nothing, so those two go to GC.KeepAlive.
$ignore = [GC].GetMethod('KeepAlive')
function Start-Runtime([scriptblock] $Build) {
    $console = [VirtShell.Engine.Console.ConsoleChannel]::new([NullString]::Value, 1MB, $null, $null)
    $services = [VirtShell.Engine.Models.MachineServices]::new($console,
        [Delegate]::CreateDelegate([Action[VirtShell.Engine.Machines.MachineExit]], $ignore),
        [Delegate]::CreateDelegate([Action[string]], $ignore))
    $runtime = & $Build $services
    $run = [Delegate]::CreateDelegate([Func[VirtShell.Engine.Machines.MachineExit]], $runtime, 'Run')
    [pscustomobject]@{ Runtime = $runtime; Console = $console
        Task = [Threading.Tasks.Task]::Factory.StartNew($run, [Threading.Tasks.TaskCreationOptions]::LongRunning) }
}

function Stop-Runtime($Machine) {
    $Machine.Runtime.RequestStop([VirtShell.Engine.Machines.MachineExit]::new('StoppedByUser', $null, $null))
    [void]$Machine.Task.Wait()
    $Machine.Runtime.Dispose()
    $Machine.Console.Dispose()
}

function Wait-Ready($Machine, [double] $TimeoutSeconds = 300) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    while (-not $Machine.Console.WaitForOutput(0, [TimeSpan]::FromMilliseconds(200), [Threading.CancellationToken]::None)) {
        if ($watch.Elapsed.TotalSeconds -gt $TimeoutSeconds) { throw "the guest did not print 'ready' in $TimeoutSeconds s" }
        if ($Machine.Task.IsCompleted) { throw "the machine ended: $($Machine.Task.Result)" }
    }
}

$ours = foreach ($round in 1..$Rounds) {
    $state = Join-Path $work "virtshell-$round.vsstate"
    $machine = Start-Runtime { param($services) $model.CreateRuntime($loaded.Spec, $services) }
    try {
        Wait-Ready $machine
        $machine.Runtime.Pause()
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $file = [IO.File]::Create($state)
        try { $machine.Runtime.SaveState($file) } finally { $file.Dispose() }
        $save = $watch.Elapsed.TotalSeconds
    }
    finally { Stop-Runtime $machine }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $saved = [VirtShell.Engine.State.SavedState]::Load($state)
    $restored = Start-Runtime { param($services) $model.Restore($loaded.Spec, $services, $saved) }
    $restore = $watch.Elapsed.TotalSeconds
    Stop-Runtime $restored
    [pscustomobject]@{ Save = $save; Restore = $restore; Bytes = (Get-Item $state).Length }
}

# ---- VirtShell through the cmdlets: the machine in its host process ----
# Checkpoint: Checkpoint-VirtMachine of the running machine (paused, saved with fsync, renamed, resumed). Restore:
# Restore-VirtCheckpoint of the stopped machine, then Start-VirtMachine of the Saved machine until it runs again: a
# host process started, the state loaded and filled, the guest going on; the figure to set against QEMU's -incoming,
# which starts a process too.

Get-VirtMachine checkpoint-bench -ErrorAction Ignore | Remove-VirtMachine -Force -Confirm:$false   # a run cut short
New-VirtMachine -Definition $definition | Out-Null
$cmdlets = foreach ($round in 1..$Rounds) {
    Start-VirtMachine checkpoint-bench
    Receive-VirtConsole checkpoint-bench -Wait -Pattern 'ready' -Timeout 300 | Out-Null
    $watch = [Diagnostics.Stopwatch]::StartNew()
    Checkpoint-VirtMachine checkpoint-bench -CheckpointName "round $round"
    $save = $watch.Elapsed.TotalSeconds
    Stop-VirtMachine checkpoint-bench -TurnOff
    $watch = [Diagnostics.Stopwatch]::StartNew()
    Restore-VirtCheckpoint checkpoint-bench -CheckpointName "round $round"
    Start-VirtMachine checkpoint-bench
    $restore = $watch.Elapsed.TotalSeconds
    Stop-VirtMachine checkpoint-bench -TurnOff
    [pscustomobject]@{ Save = $save; Restore = $restore }
}
Remove-VirtMachine checkpoint-bench -Confirm:$false

# ---- QEMU TCG: migrate to a file, -incoming from it ----

function Open-QmpSocket([string] $Socket) {
    $client = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
    $client.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($Socket))
    $stream = [Net.Sockets.NetworkStream]::new($client, $true)
    $reader = [IO.StreamReader]::new($stream)
    $writer = [IO.StreamWriter]::new($stream); $writer.AutoFlush = $true
    [pscustomobject]@{ Reader = $reader; Writer = $writer; Client = $client }
}

function Send-Qmp($Qmp, [string] $Json) {
    $Qmp.Writer.WriteLine($Json)
    while ($true) {
        $line = $Qmp.Reader.ReadLine() | ConvertFrom-Json
        if ($line.PSObject.Properties.Name -contains 'return') { return $line.return }
        if ($line.PSObject.Properties.Name -contains 'error') { throw "QMP: $($line.error.desc)" }
    }
}

function Connect-Qmp([string] $Socket, [Diagnostics.Process] $Process) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    while (-not (Test-Path $Socket)) {
        if ($Process.HasExited -or $watch.Elapsed.TotalSeconds -gt 30) { throw "QEMU did not open its QMP socket" }
        Start-Sleep -Milliseconds 5
    }
    $qmp = Open-QmpSocket $Socket
    [void]$qmp.Reader.ReadLine()  # greeting
    [void](Send-Qmp $qmp '{"execute":"qmp_capabilities"}')
    $qmp
}

function Start-Qemu([string[]] $Extra, [string] $Socket, [string] $Serial) {
    Remove-Item $Socket -ErrorAction Ignore
    $arguments = @('-accel', 'tcg', '-m', "$MemoryMiB", '-display', 'none', '-monitor', 'none', '-serial', "file:$Serial",
        '-qmp', "unix:$Socket,server=on,wait=off", '-drive', "format=raw,file=$image,if=floppy", '-boot', 'a') + $Extra
    [Diagnostics.Process]::Start('qemu-system-x86_64', [string[]] $arguments)
}

$qemu = if (Get-Command qemu-system-x86_64 -ErrorAction Ignore) {
    foreach ($round in 1..$Rounds) {
        $state = Join-Path $work "qemu-$round.migrate"
        $socket = Join-Path $work 'qmp.sock'
        $serial = Join-Path $work 'serial.txt'
        Remove-Item $serial, $state -ErrorAction Ignore
        $process = Start-Qemu @() $socket $serial
        try {
            $qmp = Connect-Qmp $socket $process
            $watch = [Diagnostics.Stopwatch]::StartNew()
            while (-not ((Get-Content $serial -Raw -ErrorAction Ignore) -match 'ready')) {
                if ($watch.Elapsed.TotalSeconds -gt 300) { throw "the guest did not print 'ready' under QEMU" }
                Start-Sleep -Milliseconds 20
            }
            [void](Send-Qmp $qmp '{"execute":"stop"}')
            $watch = [Diagnostics.Stopwatch]::StartNew()
            [void](Send-Qmp $qmp (@{ execute = 'migrate'; arguments = @{ uri = "exec:cat > $state" } } | ConvertTo-Json -Compress))
            while ((Send-Qmp $qmp '{"execute":"query-migrate"}').status -ne 'completed') { Start-Sleep -Milliseconds 1 }
            $save = $watch.Elapsed.TotalSeconds
            $qmp.Client.Dispose()
        }
        finally { $process.Kill(); $process.WaitForExit() }

        $watch = [Diagnostics.Stopwatch]::StartNew()
        $process = Start-Qemu @('-incoming', "exec:cat $state") $socket $serial
        try {
            $qmp = Connect-Qmp $socket $process
            # The source was stopped, so the restored guest stays paused: done once it has left "inmigrate".
            while ((Send-Qmp $qmp '{"execute":"query-status"}').status -eq 'inmigrate') { Start-Sleep -Milliseconds 1 }
            $restore = $watch.Elapsed.TotalSeconds
            $qmp.Client.Dispose()
        }
        finally { $process.Kill(); $process.WaitForExit() }
        [pscustomobject]@{ Save = $save; Restore = $restore; Bytes = (Get-Item $state).Length }
    }
}

$note = "$MemoryMiB MiB guest, $TouchMiB MiB written (half noise, half counters), median of $Rounds"
$rows = @(
    New-BenchRow 'checkpoint-save' 'VirtShell emulated' ((Get-Median $ours.Save) * 1000) 'ms' $note
    New-BenchRow 'checkpoint-restore' 'VirtShell emulated' ((Get-Median $ours.Restore) * 1000) 'ms' 'load + build + fill, in process'
    New-BenchRow 'checkpoint-size' 'VirtShell emulated' ((Get-Median $ours.Bytes) / 1MB) 'MiB' 'zero pages skipped, 256 KiB chunks: Brotli quality 1 or stored'
    New-BenchRow 'checkpoint-save-cmdlets' 'VirtShell emulated' ((Get-Median $cmdlets.Save) * 1000) 'ms' 'Checkpoint-VirtMachine of the running machine, through its host process'
    New-BenchRow 'checkpoint-restore-cmdlets' 'VirtShell emulated' ((Get-Median $cmdlets.Restore) * 1000) 'ms' 'Restore-VirtCheckpoint + Start-VirtMachine: host process start, load, fill'
)
if ($qemu) {
    $rows += @(
        New-BenchRow 'checkpoint-save' 'QEMU TCG' ((Get-Median $qemu.Save) * 1000) 'ms' 'migrate "exec:cat > file" of the stopped guest'
        New-BenchRow 'checkpoint-restore' 'QEMU TCG' ((Get-Median $qemu.Restore) * 1000) 'ms' '-incoming "exec:cat file", process start to loaded'
        New-BenchRow 'checkpoint-size' 'QEMU TCG' ((Get-Median $qemu.Bytes) / 1MB) 'MiB' 'zero pages skipped, uncompressed'
        New-BenchRow 'checkpoint-save' 'VirtShell / QEMU TCG' ((Get-Median $ours.Save) / (Get-Median $qemu.Save)) 'ratio' 'time; below 1 is faster'
        New-BenchRow 'checkpoint-restore' 'VirtShell / QEMU TCG' ((Get-Median $ours.Restore) / (Get-Median $qemu.Restore)) 'ratio' 'time; target: at most 1'
        New-BenchRow 'checkpoint-size' 'VirtShell / QEMU TCG' ((Get-Median $ours.Bytes) / (Get-Median $qemu.Bytes)) 'ratio' 'size; target: at most 1'
        New-BenchRow 'checkpoint-restore-cmdlets' 'VirtShell / QEMU TCG' ((Get-Median $cmdlets.Restore) / (Get-Median $qemu.Restore)) 'ratio' 'time, both starting a process; below 1 is faster'
    )
}
else { $rows += New-BenchRow 'checkpoint-save' 'QEMU TCG' 0 'ms' 'not installed (build.ps1 -Task Bootstrap)' }
Save-BenchRows (Join-Path $OutDirectory 'checkpoint.json') $rows
