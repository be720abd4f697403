// A PC with one serial port and QEMU's isa-debug-exit, running guests/hello.asm.
import { machine, uart16550, debugExit } from 'virtshell';

export default machine({
  name: 'hello',
  model: 'emulated',
  memory: '1M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, console: true }),
    debugExit({ port: 0xf4 }),
  ],
  boot: { image: './guests/hello.bin', load: 0x7c00, mode: 'real' },
  hooks: {
    beforeBoot(vm) { vm.log(`booting ${vm.name}`); },
  },
});
