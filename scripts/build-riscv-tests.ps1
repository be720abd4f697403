#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Assembles the RISC-V conformance programs (tests/riscv-arch/*.s) into flat images for the riscv64 virt board.
.DESCRIPTION
    riscv-tests' sources cannot be fetched here, so tests/riscv-arch holds our own checks written from the ISA manual,
    one program per area as riscv-tests names them (rv64ui, um, ua, uc, uf, ud, the privileged si and the Sv39 sv).
    Each is assembled with riscv64-linux-gnu-as (-march=rv64gc), linked at 0x80000000 by link.ld with
    riscv64-linux-gnu-ld, and made a flat image with objcopy; the runner (VirtShell.Conformance, build.ps1 -Task
    Conformance) boots each as firmware and counts its PASS and FAIL lines. Outputs the images.
.PARAMETER OutDirectory
    Where the images go (default: out/riscv-tests).
#>
[CmdletBinding()]
param(
    [string] $OutDirectory = (Join-Path $PSScriptRoot '../out/riscv-tests')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'common.ps1')

foreach ($tool in 'riscv64-linux-gnu-as', 'riscv64-linux-gnu-ld', 'riscv64-linux-gnu-objcopy') {
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "'$tool' is missing: apt-get install gcc-riscv64-linux-gnu (binutils-riscv64-linux-gnu)" }
}
$source = Join-Path $PSScriptRoot '../tests/riscv-arch'
$null = New-Item -ItemType Directory -Force $OutDirectory
foreach ($file in Get-ChildItem $source -Filter *.s | Sort-Object Name) {
    $object = Join-Path $OutDirectory "$($file.BaseName).o"
    $elf = Join-Path $OutDirectory "$($file.BaseName).elf"
    $image = Join-Path $OutDirectory "$($file.BaseName).bin"
    Invoke-Native riscv64-linux-gnu-as -march=rv64gc -I $source -o $object $file.FullName
    Invoke-Native riscv64-linux-gnu-ld -T (Join-Path $source 'link.ld') -o $elf $object
    Invoke-Native riscv64-linux-gnu-objcopy -O binary $elf $image
    Get-Item $image
}
