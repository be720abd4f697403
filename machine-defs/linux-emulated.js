// Debian's amd64 kernel on the emulated model: our x86 interpreter runs every instruction, our 8259/8254 and 16550
// are the PC, ttyS0 the console. The kernel is the uncompressed vmlinux started at its 64-bit entry, so the
// interpreter does not spend its time on the bzImage's decompressor. A busybox initramfs runs a shell on the
// console; this definition types `uname -a` at it.
//
// The files come from Debian packages (see scripts/linux/):
//   pwsh scripts/linux/Get-DebianKernel.ps1          # out/linux/vmlinux, and out/linux/bzImage it came from
//   pwsh scripts/linux/New-BusyboxInitramfs.ps1      # out/linux/initramfs.cpio.gz
// There is no local APIC, I/O APIC or ACPI on this PC (noapic nolapic acpi=off).
import { machine, uart16550 } from 'virtshell';
import { typeUnameAtShell } from './lib/linux-guest.js';

export default machine({
  name: 'linux-emulated',
  model: 'emulated',
  memory: '256M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, console: true }),
  ],
  boot: {
    type: 'linux',
    image: '../out/linux/vmlinux',
    initrd: '../out/linux/initramfs.cpio.gz',
    mode: 'long',
    cmdline: 'console=ttyS0 earlyprintk=serial,ttyS0 noapic nolapic acpi=off panic=-1 rdinit=/init',
  },
  hooks: typeUnameAtShell(),
});
