import { machine, uart16550, debugExit, device } from 'virtshell';

export default machine({
  name: 'hello',
  model: 'emulated',
  memory: '1M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, console: true }),
    debugExit({ port: 0xf4 }),
    device('disk', { image: './guests/hello.bin', geometry: [2, 4.5, 'x'], options: { cache: false } }),
  ],
  boot: { image: './guests/hello.bin', load: 0x7c00, mode: 'real' },
  hooks: {
    beforeBoot(vm) { vm.log('booting ' + vm.name); },
    onConsoleLine(vm, line) { if (line.startsWith('PANIC')) vm.stop(); },
  },
});
