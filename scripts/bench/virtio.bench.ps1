# What paravirtual I/O buys: bytes per second through virtio-console and virtio-blk on the paravirtual model (the
# guest kit, machine-defs/guests/kit, in its 'console' and 'disk' modes), next to the same console text through the
# emulated 16550 UART on the hardware model (a boot sector that polls LSR and writes THR, one byte per OUT), in the
# same run, with the ratio. The kit sends the console a MiB per notification and writes the disk a MiB per request,
# then flushes (fsync), so the disk figure includes getting the data to the host's disk.
# Each subject runs at a short and a longer length; the difference cancels start-up (process, module, boot) out.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [double] $TargetSeconds = 3
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
. (Join-Path $PSScriptRoot '../common.ps1')

$work = Enter-BenchWork $OutDirectory 'virtio' $ModulePath
$kitImage = Join-Path $PSScriptRoot '../../machine-defs/guests/kit/kit.bin'
$BenchLine = 'kit console bench: the quick brown fox jumps over the lazy dog'   # the kit's console-mode text

# kit-paravirtual.js in a folder of the bench's own, laid out as in machine-defs/, so the kit's settings blob and its
# disk are the bench's.
$kitFolder = Join-Path $work 'kit'
New-Item -ItemType Directory -Force (Join-Path $kitFolder 'guests/kit') | Out-Null
Copy-Item (Join-Path $PSScriptRoot '../../machine-defs/kit-paravirtual.js') $kitFolder
if (Test-Path $kitImage) { Copy-Item $kitImage (Join-Path $kitFolder 'guests/kit/kit.bin') }
$kitDisk = Join-Path $kitFolder 'guests/kit/disk.img'

# The UART guest: a boot sector that sends BYTES bytes of the same text through COM1, waiting for LSR.THRE before
# each, then powers off through isa-debug-exit.
$uartSource = Join-Path $work 'uart-writer.asm'
@"
%if BYTES < 1
  %error the byte count must be at least 1 (the loop counts down to 0)
%endif
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ebx, BYTES
    xor si, si
next:
    mov dx, 0x3fd               ; LSR
wait_thre:
    in al, dx
    test al, 0x20
    jz wait_thre
    mov al, [line + si]
    mov dx, 0x3f8               ; THR
    out dx, al
    inc si
    cmp si, line_length
    jb same_line
    xor si, si
same_line:
    dec ebx
    jnz next
    xor al, al                  ; debug-exit status (0 << 1) | 1
    out 0xf4, al
    hlt
line db '$BenchLine', 10
line_length equ `$ - line
    times 510 - (`$ - `$`$) db 0
    dw 0xaa55
"@ | Set-Content $uartSource
$uartDefinition = Join-Path $work 'uart-hardware.js'

# Each runner moves a number of bytes and returns the wall-clock seconds.
$runners = [ordered]@{
    'virtio-console (paravirtual)' = {
        param([long] $bytes)
        Set-Content (Join-Path $kitFolder 'guests/kit/selftest.cfg') "mode=console bytes=$bytes"
        New-SparseDisk 1MB
        Invoke-MachineRun (Join-Path $kitFolder 'kit-paravirtual.js') 'GuestPowerOff' 42
    }
    'virtio-blk write+flush (paravirtual)' = {
        param([long] $bytes)
        Set-Content (Join-Path $kitFolder 'guests/kit/selftest.cfg') "mode=disk sector=0 bytes=$bytes"
        New-SparseDisk $bytes
        Invoke-MachineRun (Join-Path $kitFolder 'kit-paravirtual.js') 'GuestPowerOff' 42
    }
    'UART 16550 (hardware)' = {
        param([long] $bytes)
        $image = Join-Path $work "uart-writer-$bytes.img"
        Invoke-Native nasm -f bin "-DBYTES=$bytes" -o $image $uartSource
        @"
import { machine, uart16550, debugExit } from 'virtshell';
export default machine({
  name: 'uart-bench', model: 'hardware', memory: '1M',
  devices: [ uart16550({ port: 0x3f8, irq: 4, console: true }), debugExit({ port: 0xf4 }) ],
  boot: { type: 'bootSector', image: '$image' },
});
"@ | Set-Content $uartDefinition
        Invoke-MachineRun $uartDefinition 'DebugExit' 1
    }
}

# A fresh image for each run, so that every run writes into unallocated blocks alike.
function New-SparseDisk([long] $Bytes) {
    Remove-Item $kitDisk -ErrorAction Ignore
    $stream = [IO.File]::Create($kitDisk)
    try { $stream.SetLength($Bytes) } finally { $stream.Dispose() }
}

# Runs one subject at a short and a long length; returns (bytes per second, note). The long length grows until the
# difference between the two runs is at least half of TargetSeconds, so start-up noise stays small.
function Measure-Subject([string] $Subject, [long] $Short, [long] $Cap) {
    $t1 = & $runners[$Subject] $Short
    $long = $Short * 4
    while ($true) {
        $t2 = & $runners[$Subject] $long
        $difference = $t2 - $t1
        if ($difference -ge $TargetSeconds / 2 -or $long -ge $Cap) { break }
        $long = [long][math]::Min($Cap, $long * [math]::Max(2, $TargetSeconds / [math]::Max($difference, 0.05)))
        $long -= $long % $Short     # whole multiples of the short length, which every subject accepts
    }
    if ($difference -le 0) { throw "the long run ({0:N2} s) was not slower than the short one ({1:N2} s)" -f $t2, $t1 }
    (($long - $Short) / $difference), ("{0:N0} vs {1:N0} bytes: {2:N2} s vs {3:N2} s" -f $Short, $long, $t1, $t2)
}

function Get-Unavailability([string] $Subject) {
    $model = if ($Subject -like '*(hardware)') { 'hardware' } else { 'paravirtual' }
    if (-not ($info = Get-VirtModel -Name $model).Available) { return $info.Reason }
    if ($model -eq 'paravirtual' -and -not (Test-Path $kitImage)) { return "$kitImage is not built (build.ps1 -Task Build)" }
}

$subjects = [ordered]@{
    'virtio-console (paravirtual)'         = @{ Short = 16MB; Cap = 1GB }
    'virtio-blk write+flush (paravirtual)' = @{ Short = 64MB; Cap = 1GB }
    'UART 16550 (hardware)'                = @{ Short = 16KB; Cap = 4MB }
}
$values = [ordered]@{}
$rows = @(foreach ($subject in $subjects.Keys) {
    if ($reason = Get-Unavailability $subject) { New-BenchRow 'console-and-disk-io' $subject 0 'kB/s' "not available: $reason"; continue }
    try {
        $perSecond, $note = Measure-Subject $subject $subjects[$subject].Short $subjects[$subject].Cap
        $values[$subject] = $perSecond / 1e3
        New-BenchRow 'console-and-disk-io' $subject $values[$subject] 'kB/s' $note
    }
    catch {
        New-BenchRow 'console-and-disk-io' $subject 0 'kB/s' "failed: $($_.Exception.Message -replace '\s+', ' ')"
    }
})
# The same text through both consoles; the disk has no emulated counterpart to set beside it.
$uart = $values['UART 16550 (hardware)']
$virtio = $values['virtio-console (paravirtual)']
if ($uart -and $virtio) { $rows += New-BenchRow 'console-and-disk-io' 'virtio-console / UART 16550' ($virtio / $uart) 'ratio' }
Remove-Item $kitDisk -ErrorAction Ignore
Save-BenchRows (Join-Path $OutDirectory 'virtio.json') $rows
