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

let typed = false;
export default machine({
  name: 'linux-paravirtual',
  model: 'paravirtual',
  memory: '256M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, earlyConsole: true }),
    virtioConsole({ transport: 'pci', slot: 1, irq: 11 }),
  ],
  boot: {
    // noxsave ... clearcpuid=...: on hosts that are VMs KVM runs ring 0 through an instruction emulator that has no
    // XSAVE/XRSTOR, RD/WRGSBASE, STAC/CLAC, RDPID or LDMXCSR (met in this order by a boot; without 'sse' the kernel's
    // FPU sections skip LDMXCSR and its SIMD code stays unused), nor INVPCID, POPCNT, RDRAND, RDSEED, RDTSCP or the
    // VERW of the CPU-bug mitigations: the kernel is told not to use them. (INT3 and FWAIT the backend completes.) tsc=reliable, no_timer_check, lpj: no
    // calibration or timer checks against the PIT, which misjudge time when ring 0 runs this slowly.
    type: 'linux',
    image: '../out/linux/vmlinux',
    initrd: '../out/linux/initramfs-virtio.cpio.gz',
    mode: 'long',
    cmdline: 'console=hvc0 earlyprintk=serial,ttyS0,115200 panic=-1 nokaslr noxsave nofsgsbase nopcid mitigations=off clearcpuid=smap,rdpid,rdrand,rdseed,invpcid,popcnt,rdtscp,sse tsc=reliable no_timer_check lpj=1000000 rdinit=/init',
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
