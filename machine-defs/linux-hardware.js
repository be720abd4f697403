// Debian's kernel on the hardware model: KVM runs it, our 16550 is ttyS0 and the kernel's own 8259/8254 (the
// in-kernel irqchip and PIT) are the PC chipset. The kernel is the uncompressed vmlinux started at its 64-bit entry,
// so the guest does not decompress itself: ring-0 code is emulated on hosts that are themselves VMs, and a boot
// takes minutes there. A busybox initramfs runs a shell on the console; this definition types `uname -a` at it.
//
// The files come from Debian packages (see scripts/linux/):
//   pwsh scripts/linux/Get-DebianKernel.ps1          # out/linux/vmlinux, and out/linux/bzImage it came from
//   pwsh scripts/linux/New-BusyboxInitramfs.ps1      # out/linux/initramfs.cpio.gz
// The bzImage boots too: image '../out/linux/bzImage' (mode 'long' or
// 'protected'), at the cost of decompressing itself in emulated ring 0 first.
import { machine, uart16550 } from 'virtshell';
import { nestedHostOptions, typeUnameAtShell } from './lib/linux-guest.js';

export default machine({
  name: 'linux-hardware',
  model: 'hardware',
  memory: '256M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, console: true }),
  ],
  boot: {
    // nestedHostOptions: what a kernel must not use where ring 0 runs emulated (see lib/linux-guest.js).
    type: 'linux',
    image: '../out/linux/vmlinux',
    initrd: '../out/linux/initramfs.cpio.gz',
    mode: 'long',
    cmdline: `console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 ${nestedHostOptions}`,
  },
  hooks: typeUnameAtShell(),
});
