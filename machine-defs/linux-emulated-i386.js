// Debian's 32-bit kernel (686 flavour), unmodified, on the emulated model: our interpreter runs every instruction,
// from the bzImage decompressing itself on. Our 16550 is ttyS0; a busybox initramfs runs a shell on it, this
// definition types `uname -a` at it and stops the machine when it answers.
//
// The files come from Debian packages (see scripts/linux/):
//   pwsh scripts/linux/Get-DebianKernel.ps1 -Flavour 686                          # out/linux/bzImage-686
//   pwsh scripts/linux/New-BusyboxInitramfs.ps1 -Architecture i386 -NoCompression # out/linux/initramfs-i386.cpio
// The initramfs is not compressed: the kernel copies it instead of inflating it in emulated code.
//
// noapic nolapic acpi=off: the machine has no APIC and no ACPI tables, and the kernel need not look for them.
import { machine, uart16550 } from 'virtshell';
import { typeUnameAtShell } from './lib/linux-guest.js';

export default machine({
  name: 'linux-emulated-i386',
  model: 'emulated',
  memory: '256M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, console: true }),
  ],
  boot: {
    type: 'linux',
    image: '../out/linux/bzImage-686',
    initrd: '../out/linux/initramfs-i386.cpio',
    mode: 'protected',
    cmdline: 'console=ttyS0 noapic nolapic acpi=off',
  },
  hooks: typeUnameAtShell({ machine: 'i[3-6]86', stopWhenAnswered: true }),
});
