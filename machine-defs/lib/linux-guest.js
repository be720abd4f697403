// What the Linux definitions share: the kernel options for hosts that are themselves VMs, and hooks that type
// `uname -a` at the busybox shell once the initramfs's /init says the shell is up.

// On hosts that are VMs KVM runs ring 0 through an instruction emulator that has no XSAVE/XRSTOR, RD/WRGSBASE,
// STAC/CLAC, RDPID or LDMXCSR (met in this order by a boot; without 'sse' the kernel's FPU sections skip LDMXCSR and
// its SIMD code stays unused), nor INVPCID, POPCNT, RDRAND, RDSEED, RDTSCP or the VERW of the CPU-bug mitigations:
// the kernel is told not to use them (INT3 and FWAIT the backend completes). tsc=reliable, no_timer_check, lpj: no
// calibration or timer checks against the PIT, which misjudge time when ring 0 runs this slowly. Work that takes
// minutes at that speed is skipped: the crypto self-tests (cryptomgr.notests) and the walk of every page table that
// checks for writable+executable mappings once the kernel is up (rodata=off).
export const nestedHostOptions =
  'panic=-1 nokaslr noxsave nofsgsbase nopcid mitigations=off ' +
  'clearcpuid=smap,rdpid,rdrand,rdseed,invpcid,popcnt,rdtscp,sse tsc=reliable no_timer_check lpj=1000000 ' +
  'cryptomgr.notests rodata=off rdinit=/init';

// Types `uname -a` once /init says the shell is up, and logs its answer ("uname: Linux ..."), whose machine field
// must match `machine` (x86_64, or i[3-6]86 for the 32-bit kernels). With stopWhenAnswered the machine stops then.
export function typeUnameAtShell({ machine = 'x86_64', stopWhenAnswered = false } = {}) {
  let typed = false;
  const answer = new RegExp(`^Linux \\S+ \\d+\\.\\d+\\.\\d+\\S* .*${machine}`);
  return {
    beforeBoot(vm) { vm.log(`booting ${vm.name}`); },
    onConsoleLine(vm, line) {
      if (!typed && line.startsWith('virtshell-init: shell on')) {
        typed = true;
        vm.log('shell is up; typing uname -a');
        vm.console.send('uname -a\n');
      } else if (answer.test(line)) {
        vm.log(`uname: ${line}`);
        if (stopWhenAnswered) vm.stop();
      }
    },
  };
}
