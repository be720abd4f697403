# Debian's i386 kernel booting to its busybox shell on the emulated model (machine-defs/linux-emulated-i386.js), next
# to qemu-system-i386 -machine isapc -cpu pentium2 (TCG) on the same bzImage, initramfs and command line. Each run is
# timed to the line /init prints just before the prompt ("virtshell-init: shell on"), in wall-clock seconds and in CPU
# seconds (user + system: of this process for VirtShell, of the QEMU child for QEMU), since on a host shared with
# other work a subject waiting for a CPU loses wall-clock time but not CPU time. Subjects alternate, Repetitions
# rounds; rows give the median seconds and the ratios of medians. The issue's target is a ratio of at most 2.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [int] $Repetitions = 1,
    [double] $TimeoutSeconds = 900
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$definition = (Resolve-Path (Join-Path $PSScriptRoot '../../machine-defs/linux-emulated-i386.js')).Path
$linux = Join-Path $PSScriptRoot '../../out/linux'
$kernel = Join-Path $linux 'bzImage-686'
$initramfs = Join-Path $linux 'initramfs-i386.cpio'
$commandLine = 'console=ttyS0 acpi=off'   # as in the definition; isapc has no APIC, so QEMU's kernel takes the 8259 path
$shellLine = 'virtshell-init: shell on'
$benchmark = 'linux-i386-boot'

if (-not (Test-Path $kernel)) { & (Join-Path $PSScriptRoot '../linux/Get-DebianKernel.ps1') -Flavour 686 | Out-Null }
if (-not (Test-Path $initramfs)) { & (Join-Path $PSScriptRoot '../linux/New-BusyboxInitramfs.ps1') -Architecture i386 -NoCompression | Out-Null }
$version = (Get-Item $kernel).Target -replace '^.*vmlinuz-', ''
$work = Enter-BenchWork $OutDirectory 'linux' $ModulePath

function Invoke-VirtShellBoot {
    $vm = New-VirtMachine -Definition $definition -Name "bench-$PID-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    try {
        $c0 = Get-CpuSeconds
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $vm | Start-VirtMachine
        $seen = $vm | Receive-VirtConsole -Pattern $shellLine -Timeout $TimeoutSeconds
        $seconds = $watch.Elapsed.TotalSeconds
        $cpu = (Get-CpuSeconds) - $c0
        if (-not ($seen -match $shellLine)) {
            $vm = Get-VirtMachine -Name $vm.Name
            throw "no shell after $([int]$seconds) s; the machine is $($vm.State) $($vm.LastExit), its console ends: $(Get-Content $vm.ConsoleLogPath -Tail 3)"
        }
        [pscustomobject]@{ Seconds = $seconds; Cpu = $cpu }
    }
    finally {
        $vm | Stop-VirtMachine -TurnOff -Confirm:$false -ErrorAction Ignore
        $vm | Remove-VirtMachine -Force -Confirm:$false
    }
}

function Invoke-QemuBoot {
    $info = [Diagnostics.ProcessStartInfo]::new('qemu-system-i386')
    foreach ($a in '-machine', 'isapc', '-cpu', 'pentium2', '-m', '256', '-display', 'none', '-monitor', 'none',
        '-serial', 'stdio', '-kernel', $kernel, '-initrd', $initramfs, '-append', $commandLine) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardInput = $true
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $qemu = [Diagnostics.Process]::Start($info)
    try {
        $found = $false
        while (-not $found -and $watch.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
            $line = $qemu.StandardOutput.ReadLineAsync()
            if (-not $line.Wait([TimeSpan]::FromSeconds($TimeoutSeconds - $watch.Elapsed.TotalSeconds)) -or $null -eq $line.Result) { break }
            $found = $line.Result -match $shellLine
        }
        $seconds = $watch.Elapsed.TotalSeconds
        $cpu = $qemu.TotalProcessorTime.TotalSeconds
        if (-not $found) { throw "QEMU printed no '$shellLine' in $([int]$seconds) s" }
        [pscustomobject]@{ Seconds = $seconds; Cpu = $cpu }
    }
    finally {
        if (-not $qemu.HasExited) { $qemu.Kill() }
        $qemu.WaitForExit()
    }
}

$runners = [ordered]@{ 'VirtShell emulated' = { Invoke-VirtShellBoot }; 'QEMU TCG isapc pentium2' = { Invoke-QemuBoot } }
$samples = @{}
$failures = @{}
foreach ($subject in $runners.Keys) { $samples[$subject] = [Collections.Generic.List[object]]::new() }
if (-not (Get-Command qemu-system-i386 -ErrorAction Ignore)) { $failures['QEMU TCG isapc pentium2'] = 'not installed (build.ps1 -Task Bootstrap)' }
for ($round = 0; $round -lt $Repetitions; $round++) {
    $order = @($runners.Keys)
    if ($round % 2) { [array]::Reverse($order) }
    foreach ($subject in $order) {
        if ($failures[$subject]) { continue }
        try { $samples[$subject].Add((& $runners[$subject])) }
        catch { $failures[$subject] = "failed: $($_.Exception.Message -replace '\s+', ' ')" }
    }
}

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    if ($sorted.Count % 2) { $sorted[[int][math]::Floor($sorted.Count / 2)] } else { ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2 }
}

$medians = @{}
$rows = @(foreach ($subject in $runners.Keys) {
    if ($failures[$subject]) { New-BenchRow $benchmark $subject 0 's' $failures[$subject]; continue }
    $wall = Get-Median @($samples[$subject].Seconds)
    $cpu = Get-Median @($samples[$subject].Cpu)
    $medians[$subject] = [pscustomobject]@{ Wall = $wall; Cpu = $cpu }
    New-BenchRow $benchmark $subject $wall 's' ("Linux $version to the shell; {0:N1} CPU s; runs {1}" -f $cpu, (($samples[$subject].Seconds | ForEach-Object { '{0:N1}' -f $_ }) -join ' '))
})
$ours = $medians['VirtShell emulated']; $qemu = $medians['QEMU TCG isapc pentium2']
if ($ours -and $qemu) {
    $rows += New-BenchRow $benchmark 'VirtShell / QEMU TCG' ($ours.Wall / $qemu.Wall) 'ratio' 'wall-clock; the target is at most 2'
    $rows += New-BenchRow $benchmark 'VirtShell / QEMU TCG (CPU time)' ($ours.Cpu / $qemu.Cpu) 'ratio' 'user + system seconds'
}
Save-BenchRows (Join-Path $OutDirectory 'linux.json') $rows
