# The Debian packages the build, tests, demo and benchmarks need, and how to tell which are missing.
# Dot-sourced by build.ps1; tests/pester/Bootstrap.Tests.ps1 calls the detection directly.

# Package name → why it is needed.
$DebianPackages = [ordered]@{
    'nasm'            = 'assembles the guests from source'
    'gcc'             = 'compiles the guest kit (-m32 -ffreestanding; no multilib needed)'
    'binutils'        = 'links the kit and makes its flat image'
    'busybox-static'  = 'container rootfs'
    'runc'            = "the container model's OCI runtime"
    'iproute2'        = 'container veth networks'
    'criu'            = 'container checkpoint and restore (runc checkpoint/restore)'
    'iptables'        = "CRIU saves and restores a container's own network namespace with iptables-save/-restore"
    'qemu-system-x86' = 'speed anchor'
    'bochs'           = 'speed anchor'
    'bochsbios'       = "Bochs's BIOS"
    'vgabios'         = "Bochs's VGA BIOS"
    'file'            = 'checks that busybox is static before it goes into a Linux initramfs'
    'xz-utils'        = "unpacks Debian's amd64 kernel payload into a vmlinux"
    'afl++'           = 'afl-fuzz and afl-cmin for the Fuzz task'
    'seabios'         = 'the BIOS pc-bios-disk.js boots from'
    'syslinux'        = 'installs SYSLINUX on the BIOS disk image (New-BiosDiskImage.ps1)'
    'syslinux-common' = "syslinux's MBR and modules for the BIOS disk image"
    'mtools'          = "writes the BIOS disk image's FAT partition without mounting it"
    'dosfstools'      = "makes the BIOS disk image's FAT partition (mkfs.fat)"
    'openssh-server'  = "sshd for the remoting test's namespace hosts (each runs its own; the system service is not used)"
    'openssh-client'  = 'ssh, which PowerShell remoting over SSH (New-PSSession -HostName) runs'
    'opensbi'         = 'the riscv64 firmware (fw_jump.bin) opensbi-riscv64.js and linux-riscv64.js boot'
    'gcc-riscv64-linux-gnu'  = 'cross-builds the riscv64 kernel, init and the RISC-V conformance programs'
    'libc6-dev-riscv64-cross' = "the riscv64 initramfs's static init"
    'linux-source-6.1' = 'the kernel source linux-riscv64.js is built from (no riscv64 kernel package in Debian 12)'
    'bc'              = 'the kernel build'
    'flex'            = 'the kernel build (kconfig)'
    'bison'           = 'the kernel build (kconfig)'
    'qemu-system-misc' = 'speed anchor for riscv64 (qemu-system-riscv64 -machine virt)'
}

# The names among $Name that dpkg does not list as installed. dpkg-query prints nothing (and fails) for a package it
# has never heard of, so only its positive answer counts: anything else, including no answer, is missing.
function Get-MissingDebianPackage {
    param([Parameter(Mandatory)] [string[]] $Name)
    if (-not (Get-Command dpkg-query -ErrorAction Ignore)) { throw 'dpkg-query is not on PATH: VirtShell is set up on Debian 12' }
    foreach ($package in $Name) {
        $status = & dpkg-query -W -f='${Status}' $package 2>$null
        if ($LASTEXITCODE -ne 0 -or "$status" -notmatch 'install ok installed') { $package }
    }
}

# Installs what is missing of $Name with apt-get. Not as root, it stops with the one command to run.
function Install-DebianPackage {
    param([string[]] $Name = @($DebianPackages.Keys))
    $missing = @(Get-MissingDebianPackage $Name)
    if ($missing.Count -eq 0) { return }
    $command = "apt-get update && apt-get install -y --no-install-recommends $($missing -join ' ')"
    if ((& id -u) -ne '0') {
        throw "Missing Debian packages ($($missing -join ', ')). Run as root, then this task again:`n  sudo sh -c '$command'"
    }
    Write-Host "Installing Debian packages: $($missing -join ', ')"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    $log = & sh -c "$command" 2>&1
    if ($LASTEXITCODE -ne 0) {
        $log | Select-Object -Last 20 | Write-Host
        throw "apt-get failed with exit code ${LASTEXITCODE}: $command"
    }
    $still = @(Get-MissingDebianPackage $missing)
    if ($still.Count) { throw "apt-get finished but these are still not installed: $($still -join ', ')" }
    if ($missing -contains 'openssh-server') { Stop-SystemSshd }
}

# Debian starts and enables ssh.service when openssh-server is installed. The remoting tests run their own sshd in
# network namespaces, so a system sshd the bootstrap brought (there was none before) is stopped and disabled again
# rather than left listening on port 22.
function Stop-SystemSshd {
    if (-not (Get-Command systemctl -ErrorAction Ignore)) { return }
    $state = & systemctl is-active ssh.service 2>$null
    if ("$state" -ne 'active') { return }
    Write-Host 'Stopping and disabling ssh.service, which installing openssh-server started'
    & systemctl disable --now ssh.service 2>&1 | Write-Host
    if ($LASTEXITCODE -ne 0) { throw "systemctl disable --now ssh.service failed with exit code $LASTEXITCODE" }
}
