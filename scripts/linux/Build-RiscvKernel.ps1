#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Cross-builds a small riscv64 Linux kernel Image from Debian's linux-source for linux-riscv64.js.
.DESCRIPTION
    Debian 12 has no riscv64 architecture, so there is no kernel package to download: this script unpacks
    linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz), makes allnoconfig with the fragment below (the QEMU virt
    platform's parts only: 16550 on the device tree, PLIC, SBI timer and console, virtio-mmio, initramfs) and builds
    arch/riscv/boot/Image with gcc-riscv64-linux-gnu. The build runs at nice 19 since it takes the shared cores for a
    long time. Outputs the Image path; runs again cheaply (make rebuilds nothing when nothing changed).
.PARAMETER CacheDirectory
    Where the source tree and the Image go (default: out/linux-riscv64 under the repository).
.PARAMETER Jobs
    Parallel make jobs (default: the number of processors).
#>
[CmdletBinding()]
param(
    [string] $CacheDirectory = (Join-Path $PSScriptRoot '../../out/linux-riscv64'),
    [int] $Jobs = [Environment]::ProcessorCount
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot '../common.ps1')

$tarball = '/usr/src/linux-source-6.1.tar.xz'
if (-not (Test-Path $tarball)) { throw "$tarball is missing: install Debian's linux-source-6.1 (scripts/bootstrap.ps1 does)" }
if (-not (Get-Command riscv64-linux-gnu-gcc -ErrorAction Ignore)) { throw "riscv64-linux-gnu-gcc is missing: install Debian's gcc-riscv64-linux-gnu" }
$null = New-Item -ItemType Directory -Force $CacheDirectory
$CacheDirectory = (Resolve-Path $CacheDirectory).Path
$tree = Join-Path $CacheDirectory 'linux-source-6.1'
if (-not (Test-Path (Join-Path $tree 'Makefile'))) {
    Invoke-Native tar -xf $tarball -C $CacheDirectory
}

# The virt board as linux-riscv64.js describes it, and no more: everything else stays at allnoconfig's "no".
$fragment = @'
CONFIG_ARCH_RV64I=y
CONFIG_64BIT=y
CONFIG_MMU=y
CONFIG_SOC_VIRT=y
CONFIG_RISCV_ISA_C=y
CONFIG_FPU=y
CONFIG_RISCV_SBI_V01=y
CONFIG_CC_OPTIMIZE_FOR_SIZE=y
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_SERIAL_OF_PLATFORM=y
CONFIG_SERIAL_EARLYCON=y
CONFIG_SERIAL_EARLYCON_RISCV_SBI=y
CONFIG_HVC_RISCV_SBI=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_TMPFS=y
CONFIG_SIFIVE_PLIC=y
CONFIG_RISCV_TIMER=y
CONFIG_VIRTIO_MENU=y
CONFIG_VIRTIO_MMIO=y
CONFIG_VIRTIO_CONSOLE=y
'@
$fragmentPath = Join-Path $CacheDirectory 'virt.config'
Set-Content -Path $fragmentPath -Value $fragment
$make = @('-C', $tree, 'ARCH=riscv', 'CROSS_COMPILE=riscv64-linux-gnu-')
Invoke-Native nice -n 19 make @make "KCONFIG_ALLCONFIG=$fragmentPath" allnoconfig
Invoke-Native nice -n 19 make @make "-j$Jobs" Image
$image = Join-Path $tree 'arch/riscv/boot/Image'
Copy-Item $image (Join-Path $CacheDirectory 'Image')
Join-Path $CacheDirectory 'Image'
