// Linux on the riscv64 virt board of the emulated model: OpenSBI's fw_jump (Debian's opensbi) in M-mode, then a
// kernel cross-built from Debian's linux-source-6.1 in S-mode, on the 16550 (ttyS0). The device tree the guest gets is
// made from this definition. The initramfs's /init is a small static program (Debian 12 has no riscv64 busybox)
// that says when its shell is up; this definition types `uname -a` at it.
//
// The files come from Debian packages (see scripts/linux/):
//   pwsh scripts/linux/Build-RiscvKernel.ps1      # out/linux-riscv64/Image
//   pwsh scripts/linux/New-RiscvInitramfs.ps1     # out/linux-riscv64/initramfs.cpio
import { machine, uart16550 } from 'virtshell';
import { typeUnameAtShell } from './lib/linux-guest.js';

export default machine({
  name: 'linux-riscv64',
  model: 'emulated',
  arch: 'riscv64',
  memory: '256M',
  devices: [
    uart16550({ address: 0x10000000, irq: 10 }),
  ],
  boot: {
    type: 'firmware',
    image: '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin',
    kernel: '../out/linux-riscv64/Image',
    initrd: '../out/linux-riscv64/initramfs.cpio',
    cmdline: 'console=ttyS0 earlycon=sbi panic=-1 rdinit=/init',
  },
  hooks: typeUnameAtShell({ machine: 'riscv64' }),
});
