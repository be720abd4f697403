// A machine for one kvm-unit-tests x86 binary (an ELF32 Multiboot kernel, i386/*.flat), as the suite's own x86/run
// gives it under QEMU: 128 MiB, COM1 at 0x3f8 for its output, isa-debug-exit at 0xf4 (4 bytes) for its status,
// QEMU's pc-testdev (its ports natively; its 64 KiB of RAM-like MMIO at 0xff000000, which `emulator` runs
// instructions against, as a script device here), the command line "<file name> <test arguments>" (argv), and the
// "environ" (KEY=VALUE lines) as the one Multiboot module. The run ends with DebugExit status (v << 1) | 1: 1 = passed, 3 = something failed, 77 = skipped.
// The Conformance task (tests/VirtShell.Conformance/KvmUnitTests.cs) boots the suite with these same settings.
//
//   import { machine } from 'virtshell';
//   import { kvmUnitTest } from './lib/kvm-unit-test.js';
//   export default machine(kvmUnitTest({
//     image: '../../shared/testdata/kvm-unit-tests/i386/vmexit.flat', args: 'cpuid',
//     environ: './lib/kvm-unit-test.environ',
//   }));
//
// `environ` is a path like any other in a definition, taken from the definition's folder; lib/kvm-unit-test.environ
// is the one for a single-CPU 128 MiB machine without QEMU's test device (NR_CPUS=1, MEMSIZE=128, TEST_DEVICE=0).
import { uart16550, debugExit, pcTestdev, scriptDevice } from 'virtshell';

const IORAM_BASE = 0xff000000, IORAM_LENGTH = 0x10000;

// pc-testdev's "iomem": plain bytes behind MMIO, so every guest access to it leaves the CPU (what a hypervisor's
// instruction emulator is tested with). Accesses are 1, 2 or 4 bytes, little-endian.
function ioram() {
  const bytes = new DataView(new ArrayBuffer(IORAM_LENGTH));
  const at = (address, size) => {
    const offset = address - IORAM_BASE;
    return offset >= 0 && offset + size <= IORAM_LENGTH ? offset : -1;
  };
  return scriptDevice({
    mmio: [{ start: IORAM_BASE, length: IORAM_LENGTH }],
    read(address, size) {
      const o = at(address, size);
      if (o < 0) return undefined;
      return size === 1 ? bytes.getUint8(o) : size === 2 ? bytes.getUint16(o, true) : bytes.getUint32(o, true);
    },
    write(address, size, value) {
      const o = at(address, size);
      if (o < 0) return;
      if (size === 1) bytes.setUint8(o, value); else if (size === 2) bytes.setUint16(o, value, true); else bytes.setUint32(o, value, true);
    },
  });
}

export function kvmUnitTest({ image, environ, args = '', name, model = 'emulated', memory = '128M' }) {
  if (typeof image !== 'string' || !image.endsWith('.flat')) throw new Error(`kvmUnitTest: 'image' must be a kvm-unit-tests .flat file, not ${image}`);
  if (typeof environ !== 'string') throw new Error("kvmUnitTest: 'environ' (the KEY=VALUE file given as the Multiboot module) is required");
  const file = image.split('/').pop();
  const test = file.slice(0, -'.flat'.length);
  return {
    name: name ?? `kvm-unit-test-${test}${args ? '-' + args.split(' ')[0] : ''}`,
    model,
    memory,
    devices: [
      uart16550({ port: 0x3f8, irq: 4, console: true }),
      debugExit({ port: 0xf4, size: 4 }),
      pcTestdev(),
      ioram(),
    ],
    boot: { type: 'multiboot', image, cmdline: args ? `${file} ${args}` : file, modules: [environ] },
    hooks: {
      onExit(vm, exit) {
        const verdict = { 1: 'passed', 3: 'failed', 77: 'skipped' }[exit.status] ?? `ended (${exit.reason} ${exit.status ?? ''})`;
        vm.log(`${test}: ${verdict}`);
      },
    },
  };
}
