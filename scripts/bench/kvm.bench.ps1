# What passing the CPU through buys and what a VM exit costs, on the hardware (KVM) model.
#  - kvm-exits: a ring-3 guest performs N OUTs to an unclaimed port, each a VM exit served by the user-space device
#    model; VirtShell hardware next to qemu-system-x86_64 -enable-kvm on the same image. Exits per second.
#  - cpu-long-mode-ring3: the same guest enters long mode and runs the CPU benchmark's loop in ring 3; guest MIPS on
#    hardware and emulated (and QEMU KVM for reference).
# Each subject runs at two lengths; the difference cancels start-up (process, module) out. The lengths are found once
# per benchmark (the interpreter gets its own), then every subject runs at its two, Repetitions times, the subjects alternating (and their order
# reversed every other round) so that load from elsewhere on the host falls on all of them alike. Each row gives the
# median rate, with the samples, their range and spread (max-min over median) in the JSON; the ratio row is the ratio
# of medians, with the range of the per-round ratios. Beside wall-clock time every run is also measured in CPU time
# (user + system, of this process for VirtShell, of the QEMU child for QEMU): on a host shared with other work a
# subject waiting for a CPU loses wall-clock time but not CPU time, so the CPU-time rates (CpuMedian, CpuSpread in
# the JSON, and their own ratio row) stay put where the wall-clock ones scatter. QEMU boots the sector
# from a 64 KiB ROM of ours given as its BIOS (copy to 0x7C00, jump): SeaBIOS would take minutes here, because ring-0
# code runs emulated on these hosts.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [double] $TargetSeconds = 3,
    [int] $Repetitions = 5
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
. (Join-Path $PSScriptRoot '../common.ps1')

$InstructionsPerIteration = 10
$guestSource = Join-Path $PSScriptRoot '../../machine-defs/guests/ring3-loop.asm'
$work = Enter-BenchWork $OutDirectory 'kvm' $ModulePath

function New-Ring3Image([string] $Kind, [long] $Iterations) {
    $image = Join-Path $work "ring3-$Kind-$Iterations.img"
    $defines = @("-DITERATIONS=$Iterations") + $(if ($Kind -eq 'exits') { '-DOUT_EXITS' } else { @() })
    Invoke-Native nasm -f bin -i "$(Split-Path $guestSource)/" @defines -o $image $guestSource
    $image
}

# The boot sector inside a BIOS image for QEMU: the reset vector copies it to 0000:7C00 and jumps there, as a BIOS
# would, with nothing else run first.
$romSource = Join-Path $work 'boot-rom.asm'
@'
bits 16
org 0
    incbin BOOT_IMAGE, 0, 512
copy:
    cli
    xor ax, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ax, 0xf000
    mov ds, ax
    xor si, si
    mov di, 0x7c00
    mov cx, 256
    cld
    rep movsw
    jmp 0:0x7c00
    times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:copy                 ; the reset vector, F000:FFF0
    times 0x10000 - ($ - $$) db 0
'@ | Set-Content $romSource

function New-BootRom([string] $Image) {
    $rom = [IO.Path]::ChangeExtension($Image, '.rom')
    Invoke-Native nasm -f bin "-DBOOT_IMAGE='$Image'" -o $rom $romSource
    $rom
}

# Each runner boots an image to its power-off and returns the wall-clock seconds.
$runners = [ordered]@{
    'VirtShell hardware' = { param($image) Invoke-VirtShellRun $work $image 'hardware' }
    # The short run is 10 million instructions: two minutes is ample for the interpreter.
    'VirtShell emulated' = { param($image) Invoke-VirtShellRun $work $image 'emulated' -TimeoutSeconds 120 }
    'QEMU KVM'           = {
        param($image)
        $rom = New-BootRom $image
        $watch = [Diagnostics.Stopwatch]::StartNew()
        & qemu-system-x86_64 -enable-kvm -nodefaults -display none -serial none -monitor none `
            -device 'isa-debug-exit,iobase=0xf4,iosize=1' -bios $rom 2>$null
        $seconds = $watch.Elapsed.TotalSeconds
        # isa-debug-exit makes QEMU exit with (0 << 1) | 1; anything else means the guest never got there.
        if ($LASTEXITCODE -ne 1) { throw "qemu-system-x86_64 exited with $LASTEXITCODE, not through isa-debug-exit" }
        $seconds
    }
}

# Why a subject cannot run on this host, or nothing.
function Get-Unavailability([string] $Subject, [string] $Kind) {
    if ($Subject -eq 'QEMU KVM' -and -not (Get-Command qemu-system-x86_64 -ErrorAction Ignore)) {
        return 'qemu-system-x86_64 is not installed (build.ps1 -Task Bootstrap)'
    }
    if ($Subject -ne 'VirtShell emulated' -and -not ($hardware = Get-VirtModel -Name hardware).Available) { return $hardware.Reason }
}

# The two lengths for a benchmark, found on its first subject: the long one grows until the difference between the
# two runs is at least half of TargetSeconds, so start-up noise stays small next to it.
function Find-Lengths([string] $Subject, [string] $Kind, [long] $Short, [long] $Cap) {
    $t1 = & $runners[$Subject] (New-Ring3Image $Kind $Short)
    $long = $Short * 4
    while ($true) {
        $difference = (& $runners[$Subject] (New-Ring3Image $Kind $long)) - $t1
        if ($difference -ge $TargetSeconds / 2 -or $long -ge $Cap) { break }
        $long = [long][math]::Min($Cap, $long * [math]::Max(2, $TargetSeconds / [math]::Max($difference, 0.05)))
        $long -= $long % 1000
    }
    $Short, $long
}

function Get-Median([double[]] $Values) {
    $sorted = $Values | Sort-Object
    $n = $sorted.Count
    if ($n % 2) { $sorted[($n - 1) / 2] } else { ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2 }
}

# A row with the median of the samples, and the samples, range and spread beside it.
function New-StatRow([string] $Benchmark, [string] $Subject, [double[]] $Samples, [string] $Unit, [string] $Note) {
    $median = Get-Median $Samples
    $min = ($Samples | Measure-Object -Minimum).Minimum
    $max = ($Samples | Measure-Object -Maximum).Maximum
    $spread = if ($median) { ($max - $min) / $median } else { 0 }
    $row = New-BenchRow $Benchmark $Subject $median $Unit ("median of {0}, {1:N2}-{2:N2} (spread {3:P0}){4}" -f $Samples.Count, $min, $max, $spread, $(if ($Note) { "; $Note" }))
    $row | Add-Member Samples @($Samples | ForEach-Object { [math]::Round($_, 2) })
    $row | Add-Member Min ([math]::Round($min, 2))
    $row | Add-Member Max ([math]::Round($max, 2))
    $row | Add-Member Spread ([math]::Round($spread, 3))
    $row
}

$benchmarks = [ordered]@{
    'kvm-exits'           = @{ Kind = 'exits'; Subjects = @('VirtShell hardware', 'QEMU KVM'); Short = 20000; Cap = 2000000; Unit = 'exits/s'; Scale = 1 }
    'cpu-long-mode-ring3' = @{ Kind = 'loop'; Subjects = @('VirtShell hardware', 'VirtShell emulated', 'QEMU KVM'); Short = 1000000; Cap = 2000000000; Unit = 'MIPS'; Scale = $InstructionsPerIteration / 1e6 }
}

$rows = foreach ($name in $benchmarks.Keys) {
    $b = $benchmarks[$name]
    $subjects = @(foreach ($subject in $b.Subjects) {
        if ($reason = Get-Unavailability $subject $b.Kind) { New-BenchRow $name $subject 0 $b.Unit "not available: $reason" } else { $subject }
    })
    $available = @($subjects | Where-Object { $_ -is [string] })
    $subjects | Where-Object { $_ -isnot [string] }
    if (-not $available) { continue }
    try { $short, $long = Find-Lengths $available[0] $b.Kind $b.Short $b.Cap }
    catch { New-BenchRow $name $available[0] 0 $b.Unit "failed: $($_.Exception.Message -replace '\s+', ' ')"; continue }
    $images = @{ Short = New-Ring3Image $b.Kind $short; Long = New-Ring3Image $b.Kind $long }
    # The interpreter is two orders of magnitude slower than KVM: at the lengths found for KVM its long run would take
    # many minutes, so it gets lengths of its own (a rate is a rate, whatever the length it is measured over).
    $lengths = @{}; $subjectImages = @{}
    foreach ($subject in $available) { $lengths[$subject] = $short, $long; $subjectImages[$subject] = $images }
    if ($available[0] -ne 'VirtShell emulated' -and $available -contains 'VirtShell emulated') {
        try {
            $lengths['VirtShell emulated'] = Find-Lengths 'VirtShell emulated' $b.Kind $b.Short $b.Cap
            $subjectImages['VirtShell emulated'] = @{
                Short = New-Ring3Image $b.Kind $lengths['VirtShell emulated'][0]; Long = New-Ring3Image $b.Kind $lengths['VirtShell emulated'][1]
            }
        }
        catch {
            New-BenchRow $name 'VirtShell emulated' 0 $b.Unit "failed: $($_.Exception.Message -replace '\s+', ' ')"
            $available = @($available | Where-Object { $_ -ne 'VirtShell emulated' })
        }
    }

    $samples = @{}; $cpuSamples = @{}; $failures = @{}
    foreach ($subject in $available) {
        $samples[$subject] = [Collections.Generic.List[double]]::new()
        $cpuSamples[$subject] = [Collections.Generic.List[double]]::new()
    }
    for ($round = 0; $round -lt $Repetitions; $round++) {
        $order = if ($round % 2) { [array]::Reverse(($copy = $available.Clone())); $copy } else { $available }
        foreach ($subject in $order) {
            if ($failures[$subject]) { continue }
            try {
                $children = $subject -like 'QEMU*'
                $c0 = Get-CpuSeconds -Children:$children
                $t1 = & $runners[$subject] $subjectImages[$subject].Short
                $c1 = Get-CpuSeconds -Children:$children
                $t2 = & $runners[$subject] $subjectImages[$subject].Long
                $c2 = Get-CpuSeconds -Children:$children
                $extra = $lengths[$subject][1] - $lengths[$subject][0]
                # A round the host stalled in can come out with the long run no slower; it has no rate to give.
                $samples[$subject].Add($(if ($t2 -gt $t1) { $extra / ($t2 - $t1) * $b.Scale } else { [double]::NaN }))
                $cpuSamples[$subject].Add($(if (($c2 - $c1) -gt ($c1 - $c0)) { $extra / (($c2 - $c1) - ($c1 - $c0)) * $b.Scale } else { [double]::NaN }))
            }
            catch { $failures[$subject] = $_.Exception.Message -replace '\s+', ' ' }
        }
    }

    $medians = @{}; $cpuMedians = @{}
    foreach ($subject in $available) {
        $valid = [double[]]@($samples[$subject] | Where-Object { -not [double]::IsNaN($_) })
        if ($failures[$subject] -or -not $valid) {
            New-BenchRow $name $subject 0 $b.Unit "failed: $(if ($failures[$subject]) { $failures[$subject] } else { 'no round had the long run slower than the short one' })"
            continue
        }
        $medians[$subject] = Get-Median $valid
        $row = New-StatRow $name $subject $valid $b.Unit ("{0:N0} vs {1:N0} iterations" -f $lengths[$subject][0], $lengths[$subject][1])
        $cpuValid = [double[]]@($cpuSamples[$subject] | Where-Object { -not [double]::IsNaN($_) })
        if ($cpuValid) {
            $cpu = New-StatRow $name $subject $cpuValid $b.Unit ''
            $cpuMedians[$subject] = $cpu.Value
            $row | Add-Member CpuSamples $cpu.Samples
            $row | Add-Member CpuMedian $cpu.Value
            $row | Add-Member CpuSpread $cpu.Spread
            $row.Note += "; per CPU second {0:N2} (spread {1:P0})" -f $cpu.Value, $cpu.Spread
        }
        $row
    }
    $ours = $medians['VirtShell hardware']
    foreach ($anchor in 'QEMU KVM', 'VirtShell emulated') {
        if (-not ($ours -and $medians[$anchor])) { continue }
        # Rounds pair the subjects up in time: the range of per-round ratios shows how far load moved the ratio.
        $paired = @(for ($i = 0; $i -lt $Repetitions; $i++) {
            $a = $samples['VirtShell hardware'][$i]; $q = $samples[$anchor][$i]
            if ($a -gt 0 -and $q -gt 0) { $a / $q }
        })
        $row = New-BenchRow $name "VirtShell hardware / $anchor" ($ours / $medians[$anchor]) 'ratio' `
            ("ratio of medians; per-round ratios {0:N2}-{1:N2}" -f ($paired | Measure-Object -Minimum).Minimum, ($paired | Measure-Object -Maximum).Maximum)
        $row | Add-Member Samples @($paired | ForEach-Object { [math]::Round($_, 3) })
        $row
        if ($cpuMedians['VirtShell hardware'] -and $cpuMedians[$anchor]) {
            $pairedCpu = @(for ($i = 0; $i -lt $Repetitions; $i++) {
                $a = $cpuSamples['VirtShell hardware'][$i]; $q = $cpuSamples[$anchor][$i]
                if ($a -gt 0 -and $q -gt 0) { $a / $q }
            })
            $row = New-BenchRow $name "VirtShell hardware / $anchor (CPU time)" ($cpuMedians['VirtShell hardware'] / $cpuMedians[$anchor]) 'ratio' `
                ("ratio of CPU-time medians; per-round ratios {0:N2}-{1:N2}" -f ($pairedCpu | Measure-Object -Minimum).Minimum, ($pairedCpu | Measure-Object -Maximum).Maximum)
            $row | Add-Member Samples @($pairedCpu | ForEach-Object { [math]::Round($_, 3) })
            $row
        }
    }
}
Save-BenchRows (Join-Path $OutDirectory 'kvm.json') $rows
