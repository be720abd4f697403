# What paravirtual I/O buys: bytes per second through virtio-console and virtio-blk on the paravirtual model (the
# guest kit, machine-defs/guests/kit, in its 'console' and 'disk' modes), next to the same console text through the
# emulated 16550 UART on the hardware model (a boot sector that polls LSR and writes THR, one byte per OUT) and the
# same kind of disk writes to the emulated ATA disk on the hardware model (a boot sector that writes 256 sectors per
# WRITE SECTORS with rep outsw, polling status), in the same run, with the ratios. The ATA guest also runs on the
# emulated model, where rep outsw costs no VM exit per word. The kit sends the console a MiB per notification and
# writes the disk a MiB per request; the disk guests then flush (fsync), so the disk figures include getting the data
# to the host's disk.
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
# The console's rate limit is lifted: the bench measures what the device path carries, not what the limit lets in.
(Get-Content -Raw (Join-Path $PSScriptRoot '../../machine-defs/kit-paravirtual.js')) -replace "memory: '4M',", "memory: '4M', console: { rate: 0 }," |
    Set-Content (Join-Path $kitFolder 'kit-paravirtual.js')
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

# The ATA guest: a boot sector that writes COMMANDS x 128 KiB to the primary master from LBA 0, 256 sectors per WRITE
# SECTORS (a sector count of 0), each sector one rep outsw of its own 512 bytes, then FLUSH CACHE, then powers off
# through isa-debug-exit (status 1 when all went well, 3 when the disk reported an error). nIEN is set: the guest polls
# the alternate status, as SeaBIOS does for its PIO transfers.
$ataSource = Join-Path $work 'ata-writer.asm'
@"
%if COMMANDS < 1
  %error the command count must be at least 1 (the loop counts down to 0)
%endif
bits 16
org 0x7c00
ATA equ 0x1f0
ALT equ 0x3f6
    cli
    xor ax, ax
    mov ds, ax
    cld
    mov dx, ALT
    mov al, 0x02                ; nIEN
    out dx, al
    xor ebx, ebx                ; the LBA of the next command
    mov edi, COMMANDS
command:
    mov dx, ATA + 2
    xor al, al                  ; 0 sectors: 256
    out dx, al
    inc dx
    mov al, bl
    out dx, al
    inc dx
    mov al, bh
    out dx, al
    inc dx
    mov eax, ebx
    shr eax, 16
    out dx, al
    inc dx
    mov al, ah
    and al, 0x0f
    or al, 0xe0                 ; LBA, device 0
    out dx, al
    inc dx
    mov al, 0x30                ; WRITE SECTORS
    out dx, al
    mov bp, 256
sector:
    call not_busy
    test al, 0x21               ; ERR or DF
    jnz failed
    test al, 0x08               ; DRQ
    jz failed
    mov si, 0x7c00
    mov cx, 256
    mov dx, ATA
    rep outsw
    dec bp
    jnz sector
    call done
    add ebx, 256
    dec edi
    jnz command
    mov dx, ATA + 7
    mov al, 0xe7                ; FLUSH CACHE
    out dx, al
    call done
    xor al, al                  ; debug-exit status (0 << 1) | 1
    out 0xf4, al
    hlt
failed:
    mov al, 1
    out 0xf4, al
    hlt
not_busy:
    mov dx, ALT
.poll:
    in al, dx
    test al, 0x80
    jnz .poll
    ret
done:                           ; ready, and no error, fault or data left
    call not_busy
    and al, 0x69
    cmp al, 0x40
    jne failed
    ret
    times 510 - (`$ - `$`$) db 0
    dw 0xaa55
"@ | Set-Content $ataSource
$ataDisk = Join-Path $work 'ata-disk.img'

# Each runner moves a number of bytes and returns the wall-clock seconds.
$runners = [ordered]@{
    'virtio-console (paravirtual)' = {
        param([long] $bytes)
        Set-Content (Join-Path $kitFolder 'guests/kit/selftest.cfg') "mode=console bytes=$bytes"
        New-SparseFile $kitDisk 1MB
        Invoke-MachineRun (Join-Path $kitFolder 'kit-paravirtual.js') 'GuestPowerOff' 42
    }
    'virtio-blk write+flush (paravirtual)' = {
        param([long] $bytes)
        Set-Content (Join-Path $kitFolder 'guests/kit/selftest.cfg') "mode=disk sector=0 bytes=$bytes"
        New-SparseFile $kitDisk $bytes
        Invoke-MachineRun (Join-Path $kitFolder 'kit-paravirtual.js') 'GuestPowerOff' 42
    }
    'UART 16550 (hardware)' = {
        param([long] $bytes)
        $image = Join-Path $work "uart-writer-$bytes.img"
        Invoke-Native nasm -f bin "-DBYTES=$bytes" -o $image $uartSource
        @"
import { machine, uart16550, debugExit } from 'virtshell';
export default machine({
  name: 'uart-bench', model: 'hardware', memory: '1M', console: { rate: 0 },
  devices: [ uart16550({ port: 0x3f8, irq: 4, console: true }), debugExit({ port: 0xf4 }) ],
  boot: { type: 'bootSector', image: '$image' },
});
"@ | Set-Content $uartDefinition
        Invoke-MachineRun $uartDefinition 'DebugExit' 1
    }
    'ATA disk write+flush (hardware)' = { param([long] $bytes) Invoke-AtaWriter $bytes 'hardware' }
    'ATA disk write+flush (emulated)' = { param([long] $bytes) Invoke-AtaWriter $bytes 'emulated' }
}

function Invoke-AtaWriter([long] $Bytes, [string] $Model) {
    $image = Join-Path $work "ata-writer-$Bytes.img"
    Invoke-Native nasm -f bin "-DCOMMANDS=$($Bytes / 128KB)" -o $image $ataSource
    New-SparseFile $ataDisk $Bytes
    $definition = Join-Path $work "ata-$Model.js"
    @"
import { machine, ataDisk, debugExit } from 'virtshell';
export default machine({
  name: 'ata-bench', model: '$Model', memory: '1M',
  devices: [ ataDisk({ image: '$ataDisk' }), debugExit({ port: 0xf4 }) ],
  boot: { type: 'bootSector', image: '$image' },
});
"@ | Set-Content $definition
    Invoke-MachineRun $definition 'DebugExit' 1
}

# A fresh image for each run, so that every run writes into unallocated blocks alike.
function New-SparseFile([string] $Path, [long] $Bytes) {
    Remove-Item $Path -ErrorAction Ignore
    $stream = [IO.File]::Create($Path)
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
    $model = if ($Subject -match '\((\w+)\)$') { $Matches[1] } else { throw "subject '$Subject' names no model" }
    if (-not ($info = Get-VirtModel -Name $model).Available) { return $info.Reason }
    if ($model -eq 'paravirtual' -and -not (Test-Path $kitImage)) { return "$kitImage is not built (build.ps1 -Task Build)" }
}

# Consoles in kB/s, disks in MB/s (10^3 and 10^6 bytes); the ratios are of bytes per second.
$subjects = [ordered]@{
    'virtio-console (paravirtual)'         = @{ Short = 16MB; Cap = 1GB; Unit = 'kB/s' }
    'virtio-blk write+flush (paravirtual)' = @{ Short = 64MB; Cap = 1GB; Unit = 'MB/s' }
    'UART 16550 (hardware)'                = @{ Short = 16KB; Cap = 4MB; Unit = 'kB/s' }
    'ATA disk write+flush (hardware)'      = @{ Short = 1MB; Cap = 512MB; Unit = 'MB/s' }
    'ATA disk write+flush (emulated)'      = @{ Short = 1MB; Cap = 512MB; Unit = 'MB/s' }
}
$values = [ordered]@{}
$rows = @(foreach ($subject in $subjects.Keys) {
    $unit = $subjects[$subject].Unit
    if ($reason = Get-Unavailability $subject) { New-BenchRow 'console-and-disk-io' $subject 0 $unit "not available: $reason"; continue }
    try {
        $perSecond, $note = Measure-Subject $subject $subjects[$subject].Short $subjects[$subject].Cap
        $values[$subject] = $perSecond
        New-BenchRow 'console-and-disk-io' $subject ($perSecond / $(if ($unit -eq 'MB/s') { 1e6 } else { 1e3 })) $unit $note
    }
    catch {
        New-BenchRow 'console-and-disk-io' $subject 0 $unit "failed: $($_.Exception.Message -replace '\s+', ' ')"
    }
})
# The same text through both consoles, and the same kind of writes (then a flush) to both disks.
$uart = $values['UART 16550 (hardware)']
$virtio = $values['virtio-console (paravirtual)']
if ($uart -and $virtio) { $rows += New-BenchRow 'console-and-disk-io' 'virtio-console / UART 16550' ($virtio / $uart) 'ratio' }
$ata = $values['ATA disk write+flush (hardware)']
$virtioBlk = $values['virtio-blk write+flush (paravirtual)']
if ($ata -and $virtioBlk) { $rows += New-BenchRow 'console-and-disk-io' 'virtio-blk / ATA disk (hardware)' ($virtioBlk / $ata) 'ratio' }
Remove-Item $kitDisk, $ataDisk -ErrorAction Ignore
Save-BenchRows (Join-Path $OutDirectory 'virtio.json') $rows
