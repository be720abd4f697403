#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds the riscv64 initramfs for linux-riscv64.js: machine-defs/guests/riscv/init.c, static, as /init.
.DESCRIPTION
    Debian 12 has no riscv64 busybox (no riscv64 architecture in bookworm), so /init is a small static program
    compiled here with gcc-riscv64-linux-gnu and libc6-dev-riscv64-cross: it prints a prompt on the console and answers
    uname -a, echo, cat and poweroff. The archive is written by New-BusyboxInitramfs.ps1 -Init, uncompressed (the
    kernel is built without decompressors). Outputs the path.
.PARAMETER OutFile
    The archive to write (default: out/linux-riscv64/initramfs.cpio).
#>
[CmdletBinding()]
param(
    [string] $OutFile = (Join-Path $PSScriptRoot '../../out/linux-riscv64/initramfs.cpio')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot '../common.ps1')

if (-not (Get-Command riscv64-linux-gnu-gcc -ErrorAction Ignore)) { throw 'riscv64-linux-gnu-gcc is missing: apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross' }
$folder = Split-Path -Parent ([IO.Path]::GetFullPath($OutFile))
$null = New-Item -ItemType Directory -Force $folder
$init = Join-Path $folder 'init'
Invoke-Native riscv64-linux-gnu-gcc -static -Os -Wall -Werror -o $init (Join-Path $PSScriptRoot '../../machine-defs/guests/riscv/init.c')
& (Join-Path $PSScriptRoot 'New-BusyboxInitramfs.ps1') -Init $init -NoCompression -OutFile $OutFile
