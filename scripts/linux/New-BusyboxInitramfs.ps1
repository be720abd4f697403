#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds a gzip-compressed newc initramfs with Debian's static busybox, for the Linux machine definitions.
.DESCRIPTION
    The archive holds /bin/busybox (from busybox-static), a link for each of its applets, /dev/console, and an /init
    script that mounts proc, sysfs and devtmpfs, loads the listed kernel modules, prints
    "virtshell-init: shell on /dev/<console>" and runs an interactive shell on the console named by the last
    console= on the kernel command line (the kernel's own rule).

    With -Modules (give -ModulesDirectory, as Get-DebianKernel.ps1 outputs it), the virtio modules for a paravirtual
    machine go in too: virtio, virtio_ring, virtio_pci (with virtio_pci_modern_dev and virtio_pci_legacy_dev, which
    6.x kernels split out), virtio_console, virtio_blk and virtio-rng, each after the modules it depends on. Debian's
    package ships no modules.dep (depmod runs at install), so the order comes from each module's own "depends="
    field; .ko.xz and .ko.zst modules are decompressed.

    The cpio is written here (newc, the format the kernel unpacks), so no cpio binary is needed. Outputs the path.
.PARAMETER Architecture
    amd64 (the default: the host's /bin/busybox) or i386 (busybox-static:i386, fetched with apt-get download into
    out/linux/busybox-i386, since it cannot be installed beside the amd64 one). Where the host cannot run the
    busybox, the archive holds only /bin/sh and /init makes the applet links itself (busybox --install -s).
.PARAMETER OutFile
    The archive to write (default: out/linux/initramfs.cpio.gz, or initramfs-virtio.cpio.gz with -Modules, with
    -i386 before .cpio for i386; .cpio with -NoCompression).
.PARAMETER Init
    A static program to be /init instead of busybox and its script (the riscv64 initramfs, New-RiscvInitramfs.ps1):
    the archive then holds the folders, /dev/console and that program.
.PARAMETER NoCompression
    Writes the cpio without gzip: three times the bytes, but the kernel copies instead of inflating, which matters
    where its ring-0 code runs emulated (minutes for the gzip'd one there).
#>
[CmdletBinding()]
param(
    [ValidateSet('amd64', 'i386')]
    [string] $Architecture = 'amd64',
    [string] $OutFile,
    [switch] $Modules,
    [switch] $NoCompression,
    [string] $ModulesDirectory,
    [string] $Busybox,
    [string] $Init
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot '../common.ps1')

$VirtioModules = 'virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'virtio_console', 'virtio_blk', 'virtio-rng'

$cache = Join-Path $PSScriptRoot '../../out/linux'
if (-not $OutFile) {
    $name = "$(if ($Modules) { 'initramfs-virtio' } else { 'initramfs' })$(if ($Architecture -ne 'amd64') { "-$Architecture" })"
    $OutFile = Join-Path $cache "$name.cpio$(if (-not $NoCompression) { '.gz' })"
}
if ($Init -and -not (Test-Path $Init)) { throw "-Init '$Init' does not exist" }
if (-not $Busybox -and $Architecture -eq 'amd64') { $Busybox = '/bin/busybox' }
if ($Init) {
    # No busybox: the program is the whole userland.
} elseif (-not $Busybox) {
    # busybox-static is not Multi-Arch: the i386 one is unpacked beside the tree, not installed.
    $root = Join-Path $cache "busybox-$Architecture"
    $Busybox = Join-Path $root 'bin/busybox'
    if (-not (Test-Path $Busybox)) {
        $null = New-Item -ItemType Directory -Force $root
        Push-Location $root
        try { Invoke-Native apt-get download "busybox-static:$Architecture" } finally { Pop-Location }
        $deb = Get-ChildItem $root -Filter "busybox-static_*_$Architecture.deb" | Select-Object -First 1
        if (-not $deb) { throw "apt-get download busybox-static:$Architecture left no .deb in $root (dpkg --add-architecture $Architecture && apt-get update?)" }
        Invoke-Native dpkg-deb -x $deb.FullName $root
    }
}
$program = if ($Init) { $Init } else { $Busybox }
if (-not (Test-Path $program)) { throw "'$program' does not exist: apt-get install busybox-static" }
if ((& file -b $program 2>$null) -match 'dynamically linked') { throw "'$program' is dynamically linked; the initramfs has no libc" }
if ($Modules -and -not $ModulesDirectory) { throw "-Modules needs -ModulesDirectory: the lib/modules/<version> folder of the kernel package (Get-DebianKernel.ps1 outputs it)" }
if ($Modules -and -not (Test-Path (Join-Path $ModulesDirectory 'kernel'))) { throw "-ModulesDirectory '$ModulesDirectory' has no kernel/ folder of modules" }

# ---- newc cpio: a 110-byte ASCII header, the name, the data, each padded to four bytes ----
$script:inode = 1
function Write-CpioEntry([IO.Stream] $Stream, [string] $Name, [uint32] $Mode, [byte[]] $Data = @(), [uint32] $RdevMajor = 0, [uint32] $RdevMinor = 0) {
    $nameBytes = [Text.Encoding]::UTF8.GetBytes($Name + "`0")
    $fields = @($script:inode++, $Mode, 0, 0, 1, 0, $Data.Length, 0, 0, $RdevMajor, $RdevMinor, $nameBytes.Length, 0)
    $header = '070701' + (($fields | ForEach-Object { '{0:X8}' -f [uint32]$_ }) -join '')
    $bytes = [Text.Encoding]::ASCII.GetBytes($header)
    $Stream.Write($bytes, 0, $bytes.Length)
    $Stream.Write($nameBytes, 0, $nameBytes.Length)
    Write-Padding $Stream ($bytes.Length + $nameBytes.Length)
    $Stream.Write($Data, 0, $Data.Length)
    Write-Padding $Stream $Data.Length
}
function Write-Padding([IO.Stream] $Stream, [long] $Length) {
    $pad = (4 - $Length % 4) % 4
    if ($pad) { $Stream.Write([byte[]]::new($pad), 0, $pad) }
}
$Directory = 0x41ED; $Executable = 0x81ED; $Symlink = 0xA1FF; $CharDevice = 0x2180

# ---- the modules, dependencies first ----
function Get-ModuleFile([string] $Name) {
    $pattern = '^' + ($Name -replace '[-_]', '[-_]') + '\.ko(\.xz|\.zst)?$'
    $file = Get-ChildItem -Recurse -File (Join-Path $ModulesDirectory 'kernel') | Where-Object Name -Match $pattern | Select-Object -First 1
    if (-not $file) { throw "module '$Name' is not in $ModulesDirectory" }
    $file
}
function Read-Module([IO.FileInfo] $File) {
    $tool = switch ($File.Extension) { '.xz' { 'xz' } '.zst' { 'zstd' } default { $null } }
    if (-not $tool) { return [IO.File]::ReadAllBytes($File.FullName) }
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "$($File.Name) is $tool-compressed and '$tool' is not installed" }
    $info = [Diagnostics.ProcessStartInfo]::new($tool, [string[]]@('-dc', $File.FullName))
    $info.RedirectStandardOutput = $true
    $process = [Diagnostics.Process]::Start($info)
    $buffer = [IO.MemoryStream]::new()
    $process.StandardOutput.BaseStream.CopyTo($buffer)
    $process.WaitForExit()
    if ($process.ExitCode -ne 0) { throw "$tool could not decompress $($File.FullName)" }
    $buffer.ToArray()
}
function Get-ModuleDepends([byte[]] $Module) {
    # .modinfo holds NUL-separated key=value strings; "depends=" lists the modules this one needs, by name.
    $text = [Text.Encoding]::ASCII.GetString($Module)
    $match = [regex]::Match($text, "`0depends=([^`0]*)`0")
    if (-not $match.Success) { return @() }
    @($match.Groups[1].Value -split ',' | Where-Object { $_ })
}
$ordered = [Collections.Generic.List[object]]::new()
function Add-Module([string] $Name, [string[]] $Path = @()) {
    $key = $Name -replace '-', '_'
    if ($ordered | Where-Object Key -EQ $key) { return }
    if ($Path -contains $key) { throw "module dependency loop: $(($Path + $key) -join ' -> ')" }
    $file = Get-ModuleFile $Name
    $data = Read-Module $file
    foreach ($dependency in Get-ModuleDepends $data) { Add-Module $dependency ($Path + $key) }
    $ordered.Add([pscustomobject]@{ Key = $key; FileName = ($file.Name -replace '\.(xz|zst)$', ''); Data = $data })
}
if ($Modules) { foreach ($name in $VirtioModules) { Add-Module $name } }

# ---- the applets: listed by the busybox itself, or linked at boot where this host cannot run it ----
$applets = @(if (-not $Init) { try { & $Busybox --list-full 2>$null } catch { } })
$selfInstall = -not $Init -and ($LASTEXITCODE -ne 0 -or $applets.Count -eq 0)
if ($selfInstall) { $applets = @('bin/sh') }

# ---- /init ----
$insmods = ($ordered | ForEach-Object { "insmod /lib/modules/$($_.FileName) || echo `"virtshell-init: insmod $($_.FileName) failed`"" }) -join "`n"
$initScript = @"
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
$(if ($selfInstall) { '/bin/busybox --install -s' })
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "virtshell-init: mounted proc, sysfs, devtmpfs"
$insmods
# The console the shell gets: the last console= on the command line, as for the kernel's /dev/console.
console=console
for word in `$(cat /proc/cmdline); do
  case "`$word" in console=*) console=`${word#console=}; console=`${console%%,*} ;; esac
done
tries=50
while [ ! -c /dev/`$console ] && [ `$tries -gt 0 ]; do sleep 0.1; tries=`$((tries - 1)); done
[ -c /dev/`$console ] || console=console
export PS1='~ # '
exec setsid sh -c "exec </dev/`$console >/dev/`$console 2>&1; echo 'virtshell-init: shell on /dev/`$console'; exec sh -i"
"@ -replace "`r", ''

# ---- the archive ----
$programBytes = [IO.File]::ReadAllBytes($program)
$null = New-Item -ItemType Directory -Force (Split-Path -Parent $OutFile)
$OutFile = [IO.Path]::GetFullPath($OutFile)
$file = [IO.File]::Create("$OutFile.part")
try {
    $gzip = if ($NoCompression) { $file } else { [IO.Compression.GZipStream]::new($file, [IO.Compression.CompressionLevel]::Optimal) }
    foreach ($dir in 'bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'root', 'etc', 'lib', 'lib/modules') {
        Write-CpioEntry $gzip $dir $Directory
    }
    # The kernel opens /dev/console for init before anything is mounted on /dev.
    Write-CpioEntry $gzip 'dev/console' $CharDevice -RdevMajor 5 -RdevMinor 1
    if (-not $Init) { Write-CpioEntry $gzip 'bin/busybox' $Executable $programBytes }
    foreach ($applet in $applets) {
        if ($applet -eq 'bin/busybox') { continue }
        Write-CpioEntry $gzip $applet $Symlink ([Text.Encoding]::ASCII.GetBytes('/bin/busybox'))
    }
    foreach ($module in $ordered) { Write-CpioEntry $gzip "lib/modules/$($module.FileName)" 0x81A4 $module.Data }
    Write-CpioEntry $gzip 'init' $Executable $(if ($Init) { $programBytes } else { [Text.Encoding]::UTF8.GetBytes($initScript) })
    Write-CpioEntry $gzip 'TRAILER!!!' 0
    $gzip.Dispose()
} finally { $file.Dispose() }
Move-Item -Force "$OutFile.part" $OutFile
Get-Item $OutFile
