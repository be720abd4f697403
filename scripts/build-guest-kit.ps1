#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds the guest kit (machine-defs/guests/kit): freestanding C, compiled by Debian's gcc for 32-bit protected
    mode and linked into a flat image, machine-defs/guests/kit/kit.bin, loaded at 0x100000.
.DESCRIPTION
    Needs only gcc and binutils (Debian packages gcc, binutils): -m32 compiles with the 64-bit compiler, and the kit
    links no libgcc or libc, so gcc-multilib is not needed. Objects and the ELF go to -ObjectDirectory. Compiles
    nothing when kit.bin is newer than every source. Also makes disk.img, the 1 MiB raw disk kit-paravirtual.js
    attaches, when there is none.
#>
[CmdletBinding()]
param(
    [string] $ObjectDirectory = (Join-Path $PSScriptRoot '../out/guest-kit')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'common.ps1')

$kit = (Resolve-Path (Join-Path $PSScriptRoot '../machine-defs/guests/kit')).Path
$image = Join-Path $kit 'kit.bin'
$sources = @(Get-ChildItem $kit -File | Where-Object Extension -in '.c', '.S', '.h', '.ld')
$translationUnits = @($sources | Where-Object Extension -in '.c', '.S' | Sort-Object Name)

$disk = Join-Path $kit 'disk.img'
if (-not (Test-Path $disk)) {
    $stream = [IO.File]::Create($disk)
    try { $stream.SetLength(1MB) } finally { $stream.Dispose() }
}

if ((Test-Path $image) -and ($sources | Measure-Object LastWriteTimeUtc -Maximum).Maximum -lt (Get-Item $image).LastWriteTimeUtc) {
    return
}
if (-not (Get-Command gcc -ErrorAction Ignore)) { throw 'gcc is missing: run ./build.ps1 -Task Bootstrap' }

New-Item -ItemType Directory -Force $ObjectDirectory | Out-Null
# No SSE: the kit never enables it (CR4.OSFXSR), so the compiler must not use it either.
$flags = @('-m32', '-march=i686', '-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror',
    '-ffreestanding', '-fno-pic', '-fno-pie', '-fno-stack-protector', '-fno-asynchronous-unwind-tables',
    '-mgeneral-regs-only', '-mno-red-zone')
$objects = foreach ($unit in $translationUnits) {
    $object = Join-Path $ObjectDirectory "$($unit.BaseName)$($unit.Extension -replace '\.', '-').o"
    Invoke-Native gcc @flags -c $unit.FullName -o $object
    $object
}
$elf = Join-Path $ObjectDirectory 'kit.elf'
Invoke-Native gcc -m32 -nostdlib -static -no-pie '-Wl,--build-id=none' -T (Join-Path $kit 'kit.ld') -o $elf @objects
Invoke-Native objcopy -O binary $elf $image
Write-Host "Guest kit built: $image ($((Get-Item $image).Length) bytes)"
