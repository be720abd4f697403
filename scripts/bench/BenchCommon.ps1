# Shared by the *.bench.ps1 scripts: result rows and their JSON file.

function New-BenchRow([string] $Benchmark, [string] $Subject, [double] $Value, [string] $Unit, [string] $Note = '') {
    [pscustomobject]@{ Benchmark = $Benchmark; Subject = $Subject; Value = [math]::Round($Value, 2); Unit = $Unit; Note = $Note }
}

function Save-BenchRows([string] $Path, [object[]] $Rows) {
    [pscustomobject]@{
        date = (Get-Date).ToUniversalTime().ToString('o')
        host = [pscustomobject]@{ cpus = [Environment]::ProcessorCount; kernel = (uname -r) }
        rows = $Rows
    } | ConvertTo-Json -Depth 5 | Set-Content $Path
    $Rows | Format-Table Benchmark, Subject, Value, Unit, Note -AutoSize | Out-String -Width 200
}

# CPU seconds (user + system) from /proc/self/stat: this process's own, or those of the children it has waited for.
function Get-CpuSeconds([switch] $Children) {
    $fields = ((Get-Content /proc/self/stat -Raw) -replace '^.*\) ', '') -split ' '  # fields from 3 (state) on
    $ticks = if ($Children) { [long]$fields[13] + [long]$fields[14] } else { [long]$fields[11] + [long]$fields[12] }
    $ticks / 100.0  # USER_HZ
}

# A work folder for one bench under OutDirectory, with a machine home of its own, and the module imported into it.
function Enter-BenchWork([string] $OutDirectory, [string] $Name, [string] $ModulePath) {
    $work = Join-Path $OutDirectory "$Name-work"
    New-Item -ItemType Directory -Force $work | Out-Null
    $env:VIRTSHELL_HOME = Join-Path $work 'home'
    Import-Module $ModulePath -Global
    $work
}

# A definition for one boot-sector image on one model, with the debug-exit port the bench guests leave through.
# $Tier: the emulated model's cpu.tier ('' leaves the definition without a cpu section).
function New-BenchDefinition([string] $Directory, [string] $Image, [string] $Model, [string[]] $ExtraDevices = @(), [string] $Tier = '') {
    $devices = @("debugExit({ port: 0xf4 })") + $ExtraDevices
    $path = Join-Path $Directory "$([IO.Path]::GetFileNameWithoutExtension($Image))-$Model$(if ($Tier) { "-$Tier" }).js"
    @"
import { machine, uart16550, debugExit } from 'virtshell';
export default machine({
  name: 'bench', model: '$Model', memory: '16M',
  devices: [ $($devices -join ', ') ],
  boot: { type: 'bootSector', image: '$Image' },$(if ($Tier) { "`n  cpu: { tier: '$Tier' }," })
});
"@ | Set-Content $path
    $path
}

# Runs a definition's machine to its end and returns the wall-clock seconds. The guest must end with $Reason (and
# $Status when given); a run still going after $TimeoutSeconds is cut off and reported with how far the guest got.
function Invoke-MachineRun([string] $Definition, [string] $Reason = 'DebugExit', [Nullable[int]] $Status = $null,
    [double] $TimeoutSeconds = 300) {
    $vm = New-VirtMachine -Definition $Definition -Name "bench-$PID-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    try {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $vm | Start-VirtMachine
        $vm | Wait-VirtMachine -For Stopped -Timeout $TimeoutSeconds -ErrorAction SilentlyContinue
        $seconds = $watch.Elapsed.TotalSeconds
        $vm = Get-VirtMachine -Name $vm.Name
        if ($vm.State -ne 'Stopped') {
            $instructions = ($vm | Measure-VirtMachine).Instructions
            $vm | Stop-VirtMachine -TurnOff -Confirm:$false
            throw "not stopped after $TimeoutSeconds s$(if ($instructions) { " ({0:N0} guest instructions executed)" -f $instructions })"
        }
        if ($vm.LastExit.Reason -ne $Reason -or ($null -ne $Status -and $vm.LastExit.Status -ne $Status)) {
            $tail = Get-Content $vm.ConsoleLogPath -Tail 3 -ErrorAction Ignore
            throw "the guest ended with $($vm.LastExit) $($vm.LastExit.Detail), not $Reason $Status; its console ends: $tail"
        }
        $seconds
    }
    finally { $vm | Remove-VirtMachine -Force -Confirm:$false }
}

# Boots a boot-sector image on a VirtShell model to its debug-exit power-off; returns the wall-clock seconds.
function Invoke-VirtShellRun([string] $Directory, [string] $Image, [string] $Model, [double] $TimeoutSeconds = 300, [string] $Tier = '') {
    Invoke-MachineRun (New-BenchDefinition $Directory $Image $Model -Tier $Tier) -TimeoutSeconds $TimeoutSeconds
}

# Waits for console output past byte $Offset of a running machine, through its host process's engine API (an event
# there, so no polling interval is counted); $false when none came within $Timeout.
function Wait-BenchConsoleOutput([string] $Name, [long] $Offset = 0, [timespan] $Timeout = [timespan]::FromSeconds(30)) {
    $socket = Join-Path $env:VIRTSHELL_HOME "machines/$Name/control.sock"
    $client = [VirtShell.Control.MachineClient]::Connect($Name, $socket)
    try {
        $chunk = $client.ReadConsoleAsync($Offset, 1, $Timeout.TotalSeconds, [Threading.CancellationToken]::None).GetAwaiter().GetResult()
        $chunk.Bytes.Length -gt 0
    }
    finally { $client.Dispose() }
}
