// A riscv64 virt board running Debian's OpenSBI on its own: the firmware prints its banner on the 16550 and,
// with no kernel, jumps to an empty 0x80200000. The machine's device tree is made from this definition.
import { machine, uart16550 } from 'virtshell';

export default machine({
  name: 'opensbi-riscv64',
  model: 'emulated',
  arch: 'riscv64',
  memory: '128M',
  devices: [
    uart16550({ address: 0x10000000, irq: 10 }),
  ],
  boot: { type: 'firmware', image: '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin' },
});
