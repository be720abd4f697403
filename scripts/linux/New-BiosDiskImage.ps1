#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds a bootable PC disk image from Debian packages: syslinux's MBR, one FAT16 partition with SYSLINUX, the i386
    kernel and the busybox initramfs, for machine-defs/pc-bios-disk.js.
.DESCRIPTION
    The disk is put together as a PC's is, without loop mounts or root: the partition is a file of its own
    (mkfs.fat -C, with the partition's place in its hidden-sectors field), mcopy puts the kernel, the initramfs and
    syslinux.cfg into it, `syslinux --install` (which works through mtools) writes its boot sector and ldlinux.sys,
    and the whole disk is syslinux's mbr.bin, a partition table with that one active partition at 1 MiB, and the
    partition. The BIOS loads the MBR, the MBR the partition's boot sector, that SYSLINUX, and SYSLINUX the kernel and
    initramfs through INT 13h; syslinux.cfg sends SYSLINUX's own output to COM1 (SERIAL 0) and Linux's to ttyS0.

    Needs the packages syslinux (the installer), syslinux-common (mbr.bin), mtools and dosfstools. Outputs the path.
.PARAMETER Kernel
    The bzImage (default: out/linux/bzImage-686, from Get-DebianKernel.ps1 -Flavour 686).
.PARAMETER Initramfs
    The initramfs (default: out/linux/initramfs-i386.cpio, from New-BusyboxInitramfs.ps1 -Architecture i386
    -NoCompression).
.PARAMETER Append
    The kernel command line SYSLINUX passes (default: console=ttyS0 acpi=off, as linux-emulated-i386.js boots).
.PARAMETER OutFile
    The disk image to write (default: out/linux/bios-disk.img).
#>
[CmdletBinding()]
param(
    [string] $Kernel,
    [string] $Initramfs,
    [string] $Append = 'console=ttyS0 acpi=off',
    [string] $OutFile
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot '../common.ps1')

$cache = Join-Path $PSScriptRoot '../../out/linux'
if (-not $Kernel) { $Kernel = Join-Path $cache 'bzImage-686' }
if (-not $Initramfs) { $Initramfs = Join-Path $cache 'initramfs-i386.cpio' }
if (-not $OutFile) { $OutFile = Join-Path $cache 'bios-disk.img' }
$MbrFile = '/usr/lib/syslinux/mbr/mbr.bin'
foreach ($tool in @{ syslinux = 'syslinux'; mcopy = 'mtools'; 'mkfs.fat' = 'dosfstools' }.GetEnumerator()) {
    if (-not (Get-Command $tool.Key -ErrorAction Ignore)) { throw "'$($tool.Key)' is not on PATH: apt-get install $($tool.Value)" }
}
if (-not (Test-Path $MbrFile)) { throw "$MbrFile is missing: apt-get install syslinux-common" }
foreach ($file in $Kernel, $Initramfs) {
    if (-not (Test-Path $file -PathType Leaf)) { throw "$file is missing: scripts/linux/Get-DebianKernel.ps1 -Flavour 686 and New-BusyboxInitramfs.ps1 -Architecture i386 -NoCompression make it" }
}

$SectorSize = 512
$PartitionStart = 2048              # sectors: 1 MiB, where partitioning tools put the first partition
$Heads = 16; $SectorsPerTrack = 63   # the geometry our ATA disk's IDENTIFY gives, for the CHS fields
$work = Join-Path ([IO.Path]::GetTempPath()) "virtshell-bios-disk-$PID"
$null = New-Item -ItemType Directory -Force $work
try {
    # FAT16 with 512-byte clusters: the files, 2 MiB of room, whole MiB.
    # Get-DebianKernel.ps1 leaves the kernel as a symbolic link into the unpacked package: measure what it points at.
    $payload = 0
    foreach ($file in (Get-Item $Kernel, $Initramfs)) { $payload += ($file.ResolveLinkTarget($true) ?? $file).Length }
    $partitionMiB = [math]::Ceiling($payload / 1MB) + 2
    $partition = Join-Path $work 'partition.img'
    Invoke-Native mkfs.fat -C -F 16 -s 1 -n VIRTSHELL -h $PartitionStart -g "$Heads/$SectorsPerTrack" $partition ($partitionMiB * 1024) | Out-Null

    $config = Join-Path $work 'syslinux.cfg'
    Set-Content -NoNewline -Path $config -Value (@(
        'SERIAL 0 115200'
        'DEFAULT linux'
        'PROMPT 0'
        'TIMEOUT 0'
        'LABEL linux'
        '  KERNEL /vmlinuz'
        '  INITRD /initrd.img'
        "  APPEND $Append"
    ) -join "`n")
    Invoke-Native mcopy -i $partition $Kernel '::/vmlinuz'
    Invoke-Native mcopy -i $partition $Initramfs '::/initrd.img'
    Invoke-Native mcopy -i $partition $config '::/syslinux.cfg'
    Invoke-Native syslinux --install $partition

    # Sector 0: syslinux's MBR code (440 bytes), then one active partition entry, type 0x0E (FAT16, LBA).
    $partitionSectors = (Get-Item $partition).Length / $SectorSize
    $sector0 = [byte[]]::new($SectorSize)
    $code = [IO.File]::ReadAllBytes($MbrFile)
    if ($code.Length -gt 440) { throw "$MbrFile is $($code.Length) bytes; MBR code fits in 440" }
    [Array]::Copy($code, $sector0, $code.Length)
    function Chs([long] $lba) {
        $cylinder = [math]::Floor($lba / ($Heads * $SectorsPerTrack))
        if ($cylinder -gt 1023) { return [byte[]](0xFE, 0xFF, 0xFF) }  # past CHS: LBA only
        $head = [math]::Floor($lba / $SectorsPerTrack) % $Heads
        $sector = $lba % $SectorsPerTrack + 1
        [byte[]]($head, ($sector -bor (($cylinder -shr 2) -band 0xC0)), ($cylinder -band 0xFF))
    }
    $entry = 446
    $sector0[$entry] = 0x80
    [Array]::Copy((Chs $PartitionStart), 0, $sector0, $entry + 1, 3)
    $sector0[$entry + 4] = 0x0E
    [Array]::Copy((Chs ($PartitionStart + $partitionSectors - 1)), 0, $sector0, $entry + 5, 3)
    [BitConverter]::GetBytes([uint32]$PartitionStart).CopyTo($sector0, $entry + 8)
    [BitConverter]::GetBytes([uint32]$partitionSectors).CopyTo($sector0, $entry + 12)
    $sector0[510] = 0x55
    $sector0[511] = 0xAA

    $null = New-Item -ItemType Directory -Force (Split-Path $OutFile)
    $staging = "$OutFile.tmp"
    $out = [IO.File]::Create($staging)
    try {
        $out.Write($sector0, 0, $sector0.Length)
        $out.Write([byte[]]::new(($PartitionStart - 1) * $SectorSize), 0, ($PartitionStart - 1) * $SectorSize)
        $in = [IO.File]::OpenRead($partition)
        try { $in.CopyTo($out) } finally { $in.Dispose() }
    }
    finally { $out.Dispose() }
    Move-Item -Force $staging $OutFile
    (Resolve-Path $OutFile).Path
}
finally {
    Remove-Item -Recurse -Force $work -ErrorAction Ignore
}
