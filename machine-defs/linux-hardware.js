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

let typed = false;
export default machine({
  name: 'linux-hardware',
  model: 'hardware',
  memory: '256M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, console: true }),
  ],
  boot: {
    // noxsave ... clearcpuid=...: on hosts that are VMs KVM runs ring 0 through an instruction emulator that has no
    // XSAVE/XRSTOR, RD/WRGSBASE, STAC/CLAC, RDPID or LDMXCSR (met in this order by a boot; without 'sse' the kernel's
    // FPU sections skip LDMXCSR and its SIMD code stays unused), nor INVPCID, POPCNT, RDRAND, RDSEED, RDTSCP or the
    // VERW of the CPU-bug mitigations: the kernel is told not to use them. (INT3 and FWAIT the backend completes.) tsc=reliable, no_timer_check, lpj: no
    // calibration or timer checks against the PIT, which misjudge time when ring 0 runs this slowly.
    type: 'linux',
    image: '../out/linux/vmlinux',
    initrd: '../out/linux/initramfs.cpio.gz',
    mode: 'long',
    cmdline: 'console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 panic=-1 nokaslr noxsave nofsgsbase nopcid mitigations=off clearcpuid=smap,rdpid,rdrand,rdseed,invpcid,popcnt,rdtscp,sse tsc=reliable no_timer_check lpj=1000000 rdinit=/init',
  },
  hooks: {
    beforeBoot(vm) { vm.log(`booting ${vm.name}`); },
    onConsoleLine(vm, line) {
      if (!typed && line.startsWith('virtshell-init: shell on')) {
        typed = true;
        vm.log('shell is up; typing uname -a');
        vm.console.send('uname -a\n');
      } else if (/^Linux \S+ \d+\.\d+\.\d+\S* .*x86_64/.test(line)) {
        vm.log(`uname: ${line}`);
      }
    },
  },
});
