# What passing the CPU through buys and what a VM exit costs, on the hardware (KVM) model.
#  - kvm-exits: a ring-3 guest performs N OUTs to an unclaimed port, each a VM exit served by the user-space device
#    model; VirtShell hardware next to qemu-system-x86_64 -enable-kvm on the same image. Exits per second.
#  - cpu-long-mode-ring3: the same guest enters long mode and runs the CPU benchmark's loop in ring 3; guest MIPS on
#    hardware and emulated (and QEMU KVM for reference).
# Each subject runs at two lengths; the difference cancels start-up (process, module) out. QEMU boots the sector
# from a 64 KiB ROM of ours given as its BIOS (copy to 0x7C00, jump): SeaBIOS would take minutes here, because ring-0
# code runs emulated on these hosts.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [double] $TargetSeconds = 3
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
    Invoke-Native nasm -f bin @defines -o $image $guestSource
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
    # The guest switches to long mode without asking CPUID first; on a CPU without it (the interpreter is a 486-class
    # CPU, issue 3) its CR4.PAE write faults in real mode with no handler, and the guest runs garbage until cut off.
    if ($Subject -eq 'VirtShell emulated' -and $Kind -eq 'loop') { return 'the interpreter has no long mode (CPUID: a 486-class CPU)' }
}

# Runs one subject at a short and a long length; returns (iterations per second, note). The long length grows
# until the difference between the two runs is at least half of TargetSeconds, so start-up noise stays small.
function Measure-Subject([string] $Subject, [string] $Kind, [long] $Short, [long] $Cap) {
    $t1 = & $runners[$Subject] (New-Ring3Image $Kind $Short)
    $long = $Short * 4
    while ($true) {
        $t2 = & $runners[$Subject] (New-Ring3Image $Kind $long)
        $difference = $t2 - $t1
        if ($difference -ge $TargetSeconds / 2 -or $long -ge $Cap) { break }
        $long = [long][math]::Min($Cap, $long * [math]::Max(2, $TargetSeconds / [math]::Max($difference, 0.05)))
        $long -= $long % 1000
    }
    if ($difference -le 0) { throw "the long run ({0:N2} s) was not slower than the short one ({1:N2} s)" -f $t2, $t1 }
    (($long - $Short) / $difference), ("{0:N0} vs {1:N0}: {2:N2} s vs {3:N2} s" -f $Short, $long, $t1, $t2)
}

$benchmarks = [ordered]@{
    'kvm-exits'           = @{ Kind = 'exits'; Subjects = @('VirtShell hardware', 'QEMU KVM'); Short = 100000; Cap = 2000000; Unit = 'exits/s'; Scale = 1 }
    'cpu-long-mode-ring3' = @{ Kind = 'loop'; Subjects = @('VirtShell hardware', 'VirtShell emulated', 'QEMU KVM'); Short = 1000000; Cap = 2000000000; Unit = 'MIPS'; Scale = $InstructionsPerIteration / 1e6 }
}

$rows = foreach ($name in $benchmarks.Keys) {
    $b = $benchmarks[$name]
    $values = [ordered]@{}
    foreach ($subject in $b.Subjects) {
        if ($reason = Get-Unavailability $subject $b.Kind) { New-BenchRow $name $subject 0 $b.Unit "not available: $reason"; continue }
        try {
            $perSecond, $note = Measure-Subject $subject $b.Kind $b.Short $b.Cap
            $values[$subject] = $perSecond * $b.Scale
            New-BenchRow $name $subject $values[$subject] $b.Unit $note
        }
        catch {
            New-BenchRow $name $subject 0 $b.Unit "failed: $($_.Exception.Message -replace '\s+', ' ')"
        }
    }
    $ours = $values['VirtShell hardware']
    foreach ($anchor in 'QEMU KVM', 'VirtShell emulated') {
        if ($ours -and $values[$anchor]) { New-BenchRow $name "VirtShell hardware / $anchor" ($ours / $values[$anchor]) 'ratio' }
    }
}
Save-BenchRows (Join-Path $OutDirectory 'kvm.json') $rows
