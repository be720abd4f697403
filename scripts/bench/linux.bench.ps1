# Debian's kernels booting to their busybox shell on the emulated model, next to QEMU TCG on the same kernel,
# initramfs and command line: i386 (machine-defs/linux-emulated-i386.js, the 686 bzImage) against
# qemu-system-i386 -machine isapc -cpu pentium2, and amd64 (machine-defs/linux-emulated.js) against
# qemu-system-x86_64, and riscv64 (machine-defs/linux-riscv64.js: OpenSBI, a kernel built from linux-source) against
# qemu-system-riscv64 -machine virt with the same fw_jump.bin. For amd64 we start the kernel's vmlinux at its 64-bit entry while QEMU, which cannot load an
# ELF64 kernel, boots the bzImage it came from and so also decompresses it: the rows say so. Each run is timed to the
# line /init prints just before the prompt ("virtshell-init: shell on"), in wall-clock seconds and in CPU seconds
# (user + system: of this process for VirtShell, of the QEMU child for QEMU), since on a host shared with other work
# a subject waiting for a CPU loses wall-clock time but not CPU time. Subjects alternate, Repetitions rounds; rows
# give the median seconds and the ratios of medians. The issue's target is a ratio of at most 2. The x86 guests boot
# on both tiers of the emulated CPU: as the definition says ('VirtShell emulated', under cpu.tier
# 'auto', the translator) and with cpu.tier 'interpreter' ('VirtShell interpreter', a copy of the definition in the
# bench folder).
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [int] $Repetitions = 1,
    [double] $TimeoutSeconds = 900,
    # Runs only the benchmarks whose names match (e.g. 'linux-riscv64-boot').
    [string] $Only = '*'
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$root = Join-Path $PSScriptRoot '../..'
$linux = Join-Path $root 'out/linux'
$shellLine = 'virtshell-init: shell on'
$guests = @(
    [pscustomobject]@{
        Benchmark = 'linux-i386-boot'; Definition = 'linux-emulated-i386.js'; Kernel = 'bzImage-686'; Initramfs = 'initramfs-i386.cpio'
        Qemu = 'qemu-system-i386'; QemuMachine = @('-machine', 'isapc', '-cpu', 'pentium2'); Anchor = 'QEMU TCG isapc pentium2'
        # QEMU's isapc has no I/O APIC, and the kernel oopses in setup_IO_APIC unless told so.
        QemuCommandLine = ' noapic nolapic'; KernelNote = '; QEMU (isapc, no APIC) also gets noapic nolapic'
        Make = { & "$root/scripts/linux/Get-DebianKernel.ps1" -Flavour 686 | Out-Null; & "$root/scripts/linux/New-BusyboxInitramfs.ps1" -Architecture i386 -NoCompression | Out-Null }
    }
    [pscustomobject]@{
        Benchmark = 'linux-amd64-boot'; Definition = 'linux-emulated.js'; Kernel = 'bzImage'; Initramfs = 'initramfs.cpio.gz'
        Qemu = 'qemu-system-x86_64'; QemuMachine = @(); Anchor = 'QEMU TCG x86_64'; QemuCommandLine = ''
        KernelNote = '; VirtShell starts the vmlinux, QEMU boots and decompresses the bzImage'
        Make = { & "$root/scripts/linux/Get-DebianKernel.ps1" -Flavour amd64 | Out-Null; & "$root/scripts/linux/New-BusyboxInitramfs.ps1" | Out-Null }
    }
    [pscustomobject]@{
        Benchmark = 'linux-riscv64-boot'; Definition = 'linux-riscv64.js'; Kernel = '../linux-riscv64/Image'; Initramfs = '../linux-riscv64/initramfs.cpio'
        Qemu = 'qemu-system-riscv64'; QemuMachine = @('-machine', 'virt', '-bios', '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin')
        Anchor = 'QEMU TCG riscv64 virt'; QemuCommandLine = ''; KernelNote = '; both through OpenSBI fw_jump'
        Make = { & "$root/scripts/linux/Build-RiscvKernel.ps1" | Out-Null; & "$root/scripts/linux/New-RiscvInitramfs.ps1" | Out-Null }
    }
)
$guests = @($guests | Where-Object Benchmark -Like $Only)
$work = Enter-BenchWork $OutDirectory 'linux' $ModulePath

# The command line both subjects get: the definition's own.
function Get-CommandLine([string] $Definition) {
    if ((Get-Content $Definition -Raw) -notmatch "cmdline:\s*'([^']*)'") { throw "$Definition has no cmdline: '...' line" }
    $Matches[1]
}

# A copy of the definition that runs on the interpreter, in the bench folder: its files' paths made absolute,
# and machine-defs/lib copied beside it for its imports (which stay inside the definition's folder).
function New-InterpreterDefinition($guest) {
    $folder = Split-Path $guest.DefinitionPath
    Copy-Item (Join-Path $folder 'lib') $work -Recurse -Force
    $text = (Get-Content $guest.DefinitionPath -Raw) -replace "'\.\./", "'$(Split-Path $folder)/"
    if ($text -notmatch "model: 'emulated',") { throw "$($guest.DefinitionPath) has no model: 'emulated', line" }
    $path = Join-Path $work ($guest.Definition -replace '\.js$', '-interpreter.js')
    $text -replace "model: 'emulated',", "model: 'emulated',`n  cpu: { tier: 'interpreter' }," | Set-Content $path
    $path
}

function Invoke-VirtShellBoot($guest, [string] $Definition = $guest.DefinitionPath) {
    $vm = New-VirtMachine -Definition $Definition -Name "bench-$PID-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
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

function Invoke-QemuBoot($guest) {
    $info = [Diagnostics.ProcessStartInfo]::new($guest.Qemu)
    foreach ($a in @($guest.QemuMachine) + @('-m', '256', '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
            '-kernel', [IO.Path]::GetFullPath((Join-Path $linux $guest.Kernel)), '-initrd', [IO.Path]::GetFullPath((Join-Path $linux $guest.Initramfs)), '-append', ($guest.CommandLine + $guest.QemuCommandLine))) {
        $info.ArgumentList.Add($a)
    }
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

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    if ($sorted.Count % 2) { $sorted[[int][math]::Floor($sorted.Count / 2)] } else { ($sorted[$sorted.Count / 2 - 1] + $sorted[$sorted.Count / 2]) / 2 }
}

$rows = foreach ($guest in $guests) {
    $guest | Add-Member DefinitionPath (Resolve-Path (Join-Path $root "machine-defs/$($guest.Definition)")).Path
    $guest | Add-Member CommandLine (Get-CommandLine $guest.DefinitionPath)
    $ours = 'VirtShell emulated'
    $interpreter = 'VirtShell interpreter'
    $runners = [ordered]@{ $ours = { Invoke-VirtShellBoot $guest } }
    if ((Get-Content $guest.DefinitionPath -Raw) -match "model: 'emulated',") {
        $interpreterDefinition = New-InterpreterDefinition $guest
        $runners[$interpreter] = { Invoke-VirtShellBoot $guest $interpreterDefinition }
    }
    $runners[$guest.Anchor] = { Invoke-QemuBoot $guest }
    $samples = @{}
    $failures = @{}
    foreach ($subject in $runners.Keys) { $samples[$subject] = [Collections.Generic.List[object]]::new() }
    if (-not ((Test-Path (Join-Path $linux $guest.Kernel)) -and (Test-Path (Join-Path $linux $guest.Initramfs)))) {
        try { & $guest.Make } catch { foreach ($subject in $runners.Keys) { $failures[$subject] = "no guest: $($_.Exception.Message)" } }
    }
    if (-not (Get-Command $guest.Qemu -ErrorAction Ignore)) { $failures[$guest.Anchor] = 'not installed (build.ps1 -Task Bootstrap)' }
    $version = (Get-Item (Join-Path $linux $guest.Kernel) -ErrorAction Ignore).Target -replace '^.*vmlinuz-', ''
    for ($round = 0; $round -lt $Repetitions; $round++) {
        $order = @($runners.Keys)
        if ($round % 2) { [array]::Reverse($order) }
        foreach ($subject in $order) {
            if ($failures[$subject]) { continue }
            try { $samples[$subject].Add((& $runners[$subject])) }
            catch { $failures[$subject] = "failed: $($_.Exception.Message -replace '\s+', ' ')" }
        }
    }
    $medians = @{}
    foreach ($subject in $runners.Keys) {
        if ($failures[$subject]) { New-BenchRow $guest.Benchmark $subject 0 's' $failures[$subject]; continue }
        $wall = Get-Median @($samples[$subject].Seconds)
        $cpu = Get-Median @($samples[$subject].Cpu)
        $medians[$subject] = [pscustomobject]@{ Wall = $wall; Cpu = $cpu }
        New-BenchRow $guest.Benchmark $subject $wall 's' ("Linux $version to the shell; {0:N1} CPU s; runs {1}{2}" -f $cpu, (($samples[$subject].Seconds | ForEach-Object { '{0:N1}' -f $_ }) -join ' '), $guest.KernelNote)
    }
    $anchor = $medians[$guest.Anchor]
    foreach ($subject in $ours, $interpreter) {
        $mine = $medians[$subject]
        $label = if ($subject -eq $ours) { 'VirtShell' } else { $subject }
        if ($mine -and $anchor) {
            New-BenchRow $guest.Benchmark "$label / QEMU TCG" ($mine.Wall / $anchor.Wall) 'ratio' 'wall-clock; the target is at most 2'
            New-BenchRow $guest.Benchmark "$label / QEMU TCG (CPU time)" ($mine.Cpu / $anchor.Cpu) 'ratio' 'user + system seconds'
        }
    }
    if ($medians[$ours] -and $medians[$interpreter]) {
        New-BenchRow $guest.Benchmark "$ours / $interpreter" ($medians[$ours].Wall / $medians[$interpreter].Wall) 'ratio' 'wall-clock; auto is the translator'
        New-BenchRow $guest.Benchmark "$ours / $interpreter (CPU time)" ($medians[$ours].Cpu / $medians[$interpreter].Cpu) 'ratio' 'user + system seconds'
    }
}
Save-BenchRows (Join-Path $OutDirectory 'linux.json') @($rows)
