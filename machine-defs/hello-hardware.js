// hello-emulated.js on the hardware model: KVM runs guests/hello.asm on the host CPU, the same serial port and
// isa-debug-exit serve it, and the kernel's 8259 pair takes the UART's IRQ 4.
import { machine, uart16550, debugExit } from 'virtshell';

export default machine({
  name: 'hello',
  model: 'hardware',
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
