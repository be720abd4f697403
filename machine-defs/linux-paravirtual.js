// Debian's kernel on the paravirtual model: KVM runs it, and its console is a virtio-console on virtio-pci (hvc0).
// Debian builds virtio-pci and virtio-console as modules, so the initramfs carries them and /init loads them; until
// then the kernel's early messages go to the one legacy device a paravirtual machine may keep, an early-console UART
// (earlyprintk=ttyS0). The console is hvc0; a busybox shell runs on it and this definition types `uname -a` at it.
//
// The files come from Debian packages (see scripts/linux/):
//   pwsh scripts/linux/Get-DebianKernel.ps1                                   # out/linux/vmlinux
//   pwsh scripts/linux/New-BusyboxInitramfs.ps1 -Modules -ModulesDirectory <its ModulesDirectory>
//                                                                             # out/linux/initramfs-virtio.cpio.gz
import { machine, uart16550, virtioConsole } from 'virtshell';
import { nestedHostOptions, typeUnameAtShell } from './lib/linux-guest.js';

export default machine({
  name: 'linux-paravirtual',
  model: 'paravirtual',
  memory: '256M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, earlyConsole: true }),
    virtioConsole({ transport: 'pci', slot: 1, irq: 11 }),
  ],
  boot: {
    // nestedHostOptions: what a kernel must not use where ring 0 runs emulated (see lib/linux-guest.js).
    type: 'linux',
    image: '../out/linux/vmlinux',
    initrd: '../out/linux/initramfs-virtio.cpio.gz',
    mode: 'long',
    cmdline: `console=hvc0 earlyprintk=serial,ttyS0,115200 ${nestedHostOptions}`,
  },
  hooks: typeUnameAtShell(),
});
