// Linux booted as a PC boots it: SeaBIOS from the reset vector, syslinux's MBR and SYSLINUX from the ATA disk through
// INT 13h, then Debian's 686 kernel and the busybox initramfs, which SYSLINUX loads. The hook types `uname -a` at the
// shell on ttyS0 and stops the machine when it answers. pc-bochs-bios-disk.js is the same machine on the Bochs BIOS.
//
// The disk comes from Debian packages (see scripts/linux/):
//   pwsh scripts/linux/Get-DebianKernel.ps1 -Flavour 686
//   pwsh scripts/linux/New-BusyboxInitramfs.ps1 -Architecture i386 -NoCompression
//   pwsh scripts/linux/New-BiosDiskImage.ps1                                        # out/linux/bios-disk.img
// Its syslinux.cfg gives the kernel console=ttyS0 acpi=off: the BIOS's MP table describes the APICs, and there are
// no ACPI tables.
import { biosMachine } from './lib/pc-bios.js';
import { typeUnameAtShell } from './lib/linux-guest.js';

export default biosMachine({
  name: 'pc-bios-disk',
  bios: 'seabios',
  disk: '../out/linux/bios-disk.img',
  hooks: typeUnameAtShell({ machine: 'i[3-6]86', stopWhenAnswered: true }),
});
