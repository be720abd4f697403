# Guest MIPS of the RISC-V interpreter on a CPU-bound loop (guests/riscv-loop.s, five instructions a round), side by
# side with qemu-system-riscv64 -machine virt (TCG) on the same image. Each subject runs the loop at two lengths; the
# difference cancels start-up out. The boot of Linux to its shell against QEMU is in linux.bench.ps1 (linux-riscv64-boot).
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [long] $ShortIterations = 2000000,
    [long] $LongIterations = 12000000
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
. (Join-Path $PSScriptRoot '../common.ps1')

$perIteration = 5
$work = Enter-BenchWork $OutDirectory 'riscv' $ModulePath

function New-RiscvLoopImage([long] $Iterations) {
    $object = Join-Path $work "riscv-loop-$Iterations.o"
    $elf = [IO.Path]::ChangeExtension($object, '.elf')
    $image = [IO.Path]::ChangeExtension($object, '.bin')
    Invoke-Native riscv64-linux-gnu-as -march=rv64gc "--defsym=ITERATIONS=$Iterations" -o $object (Join-Path $PSScriptRoot 'guests/riscv-loop.s')
    Invoke-Native riscv64-linux-gnu-ld -T (Join-Path $PSScriptRoot '../../tests/riscv-arch/link.ld') -o $elf $object
    Invoke-Native riscv64-linux-gnu-objcopy -O binary $elf $image
    $image
}

$runners = [ordered]@{
    'VirtShell emulated riscv64' = {
        param($image)
        $definition = Join-Path $work "$([IO.Path]::GetFileNameWithoutExtension($image)).js"
        @"
import { machine, uart16550 } from 'virtshell';
export default machine({
  name: 'bench', model: 'emulated', arch: 'riscv64', memory: '16M',
  devices: [ uart16550({ address: 0x10000000, irq: 10 }) ],
  boot: { type: 'firmware', image: '$image' },
});
"@ | Set-Content $definition
        Invoke-MachineRun $definition -Reason GuestPowerOff -TimeoutSeconds 600
    }
    'QEMU TCG riscv64 virt' = {
        param($image)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        & qemu-system-riscv64 -machine virt -m 16 -display none -serial none -monitor none -bios $image
        $watch.Elapsed.TotalSeconds
    }
}

$rows = @()
if (-not (Get-Command riscv64-linux-gnu-as -ErrorAction Ignore)) {
    $rows += New-BenchRow 'riscv-loop' 'VirtShell emulated riscv64' 0 'MIPS' 'no riscv64-linux-gnu-as (gcc-riscv64-linux-gnu): build.ps1 -Task Bootstrap'
}
else {
    $short = New-RiscvLoopImage $ShortIterations
    $long = New-RiscvLoopImage $LongIterations
    $mips = @{}
    foreach ($subject in $runners.Keys) {
        if ($subject -like 'QEMU*' -and -not (Get-Command qemu-system-riscv64 -ErrorAction Ignore)) {
            $rows += New-BenchRow 'riscv-loop' $subject 0 'MIPS' 'qemu-system-misc is not installed'
            continue
        }
        $t1 = & $runners[$subject] $short
        $t2 = & $runners[$subject] $long
        $value = ($LongIterations - $ShortIterations) * $perIteration / [math]::Max($t2 - $t1, 0.001) / 1e6
        $mips[$subject] = $value
        $rows += New-BenchRow 'riscv-loop' $subject $value 'MIPS' ('{0:N2} s and {1:N2} s for {2:N0} and {3:N0} rounds' -f $t1, $t2, $ShortIterations, $LongIterations)
    }
    if ($mips.Count -eq 2) {
        $rows += New-BenchRow 'riscv-loop' 'VirtShell / QEMU TCG' ($mips['VirtShell emulated riscv64'] / $mips['QEMU TCG riscv64 virt']) 'ratio' 'guest MIPS'
    }
}
Save-BenchRows (Join-Path $OutDirectory 'riscv.json') $rows
