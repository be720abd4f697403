#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Fetches Debian's current amd64 or 686 kernel (and for amd64 extracts an uncompressed vmlinux), for the Linux
    machine definitions.
.DESCRIPTION
    Resolves the real package behind the linux-image-<flavour> metapackage (apt-cache depends), fetches it with
    apt-get download into the cache folder, unpacks it with dpkg-deb -x, and pulls the compressed payload out of the
    bzImage (payload_offset/payload_length in the setup header) and decompresses it with Debian's xz or zstd. The
    result is a vmlinux the VirtShell Linux loader starts at its 64-bit entry, so the guest does not spend minutes of
    emulated ring-0 time decompressing itself.

    The 686 kernel is an i386 package: on a host without the i386 architecture the script adds it (dpkg
    --add-architecture i386, apt-get update), which needs root. Its bzImage is used as it is (the emulated model boots
    it through the 32-bit boot protocol and lets it decompress itself), so no vmlinux is extracted.

    Outputs one object: Version, BzImage, Vmlinux (none for 686), ModulesDirectory, Package; the links vmlinux and
    bzImage (amd64) or bzImage-686 in the cache folder point at the current ones. Runs again cheaply: what is already
    in the cache is reused.
.PARAMETER Flavour
    amd64 (the default) or 686, Debian's kernel for 32-bit PCs from the Pentium Pro on.
.PARAMETER CacheDirectory
    Where the .deb, its contents and the vmlinux go (default: out/linux under the repository).
#>
[CmdletBinding()]
param(
    [ValidateSet('amd64', '686')]
    [string] $Flavour = 'amd64',
    [string] $CacheDirectory = (Join-Path $PSScriptRoot '../../out/linux')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot '../common.ps1')

foreach ($tool in 'apt-cache', 'apt-get', 'dpkg-deb') {
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "'$tool' is not on PATH: this script needs a Debian host" }
}
$null = New-Item -ItemType Directory -Force $CacheDirectory
$CacheDirectory = (Resolve-Path $CacheDirectory).Path

# The 686 kernel is an i386 package, which apt knows about only once the architecture is added and the lists are
# updated; a host where either is missing gets both (as root), or is told the command.
$architecture = if ($Flavour -eq '686') { 'i386' } else { 'amd64' }
$native = (& dpkg --print-architecture).Trim()
$meta = if ($architecture -eq $native) { "linux-image-$Flavour" } else { "linux-image-${Flavour}:$architecture" }

# linux-image-<flavour> depends on exactly one versioned image package: that is the current kernel.
function Find-ImagePackage {
    & apt-cache depends $meta 2>$null |
        ForEach-Object { if ($_ -match "^\s*Depends:\s*(linux-image-\S+-$Flavour)(:$architecture)?\s*`$") { $Matches[1] } } |
        Select-Object -First 1
}
$package = Find-ImagePackage
if (-not $package -and $architecture -ne $native) {
    $command = "dpkg --add-architecture $architecture && apt-get update"
    if ((& id -u) -ne '0') { throw "the $Flavour kernel is an $architecture package that apt does not list: run '$command' as root" }
    Write-Verbose "apt lists no ${meta}: $command"
    Invoke-Native dpkg --add-architecture $architecture
    Invoke-Native apt-get update
    $package = Find-ImagePackage
}
if (-not $package) { throw "apt-cache depends $meta names no linux-image-*-$Flavour package (run apt-get update?)" }
$version = $package -replace '^linux-image-', ''
$qualified = if ($architecture -eq $native) { $package } else { "${package}:$architecture" }

$deb = Get-ChildItem $CacheDirectory -Filter "${package}_*.deb" | Select-Object -First 1
if (-not $deb) {
    Push-Location $CacheDirectory
    try { Invoke-Native apt-get download $qualified } finally { Pop-Location }
    $deb = Get-ChildItem $CacheDirectory -Filter "${package}_*.deb" | Select-Object -First 1
    if (-not $deb) { throw "apt-get download $package left no .deb in $CacheDirectory" }
}

$root = Join-Path $CacheDirectory $package
$bzImage = Join-Path $root "boot/vmlinuz-$version"
if (-not (Test-Path $bzImage)) {
    Invoke-Native dpkg-deb -x $deb.FullName $root
    if (-not (Test-Path $bzImage)) { throw "$($deb.Name) holds no boot/vmlinuz-$version" }
}

# The compressed kernel sits payload_offset bytes into the protected-mode part (after the setup sectors); the build
# appends the uncompressed size as four bytes, which neither xz nor zstd wants to see.
function Export-KernelPayload([string] $Image, [string] $Destination) {
    $bytes = [IO.File]::ReadAllBytes($Image)
    if ($bytes.Length -lt 0x250 -or [Text.Encoding]::ASCII.GetString($bytes, 0x202, 4) -ne 'HdrS') {
        throw "'$Image' is not a bzImage (no 'HdrS' setup header at 0x202)"
    }
    $version = [BitConverter]::ToUInt16($bytes, 0x206)
    if ($version -lt 0x0208) { throw "'$Image' speaks boot protocol $('{0:x}' -f $version); payload_offset needs 2.08" }
    $setupSectors = if ($bytes[0x1F1] -eq 0) { 4 } else { $bytes[0x1F1] }
    $offset = ($setupSectors + 1) * 512 + [BitConverter]::ToUInt32($bytes, 0x248)
    $length = [BitConverter]::ToUInt32($bytes, 0x24C)
    if ($offset + $length -gt $bytes.Length) { throw "'$Image': the payload (0x$('{0:x}' -f $offset)+$length) reaches past the end of the file" }
    $payload = [byte[]]::new($length - 4)
    [Array]::Copy($bytes, $offset, $payload, 0, $payload.Length)

    $decompressor = switch ($true) {
        { $payload[0] -eq 0xFD -and [Text.Encoding]::ASCII.GetString($payload, 1, 4) -eq '7zXZ' } { 'xz', @('-dc', '--single-stream') }
        { [BitConverter]::ToUInt32($payload, 0) -eq 0xFD2FB528 } { 'zstd', @('-dc') }
        default {
            throw "'$Image': the payload starts with $(($payload[0..5] | ForEach-Object { '{0:x2}' -f $_ }) -join ' '), which is neither xz nor zstd; extract it by hand (scripts/extract-vmlinux in the kernel tree knows the others)"
        }
    }
    $tool, $arguments = $decompressor
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "the payload of '$Image' is $tool-compressed, and '$tool' is not installed (apt-get install $(if ($tool -eq 'xz') { 'xz-utils' } else { 'zstd' }))" }
    $compressed = "$Destination.$tool"
    [IO.File]::WriteAllBytes($compressed, $payload)
    try {
        $info = [Diagnostics.ProcessStartInfo]::new($tool)
        foreach ($a in $arguments + $compressed) { $info.ArgumentList.Add($a) }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $process = [Diagnostics.Process]::Start($info)
        $errors = $process.StandardError.ReadToEndAsync()
        $file = [IO.File]::Create("$Destination.part")
        try { $process.StandardOutput.BaseStream.CopyTo($file) } finally { $file.Dispose() }
        $process.WaitForExit()
        if ($process.ExitCode -ne 0) { throw "$tool could not decompress the payload of '$Image': $($errors.Result)" }
    } finally { Remove-Item $compressed -ErrorAction Ignore }
    $head = [byte[]]::new(5)
    $stream = [IO.File]::OpenRead("$Destination.part")
    try { $null = $stream.Read($head, 0, 5) } finally { $stream.Dispose() }
    if ([Text.Encoding]::ASCII.GetString($head, 1, 3) -ne 'ELF' -or $head[4] -ne 2) {
        throw "the payload of '$Image' did not decompress to a 64-bit ELF kernel"
    }
    Move-Item -Force "$Destination.part" $Destination
}

$links = @{ "bzImage-$Flavour" = $bzImage }
$vmlinux = $null
if ($Flavour -eq 'amd64') {
    $vmlinux = Join-Path $CacheDirectory "vmlinux-$version"
    if (-not (Test-Path $vmlinux)) { Export-KernelPayload $bzImage $vmlinux }
    $links = @{ vmlinux = $vmlinux; bzImage = $bzImage }
}

# Version-free names, which machine-defs/linux-*.js refer to.
foreach ($link in $links.GetEnumerator()) {
    $path = Join-Path $CacheDirectory $link.Key
    Remove-Item $path -Force -ErrorAction Ignore
    $null = New-Item -ItemType SymbolicLink -Path $path -Target ([IO.Path]::GetRelativePath($CacheDirectory, $link.Value))
}

[pscustomobject]@{
    Version          = $version
    Package          = $package
    BzImage          = $bzImage
    Vmlinux          = $vmlinux
    ModulesDirectory = Join-Path $root "lib/modules/$version"
}
