import { machine, uart16550, debugExit } from 'virtshell';
export default machine({
  name: 'f', model: 'emulated', memory: '1M',
  devices: [uart16550({ port: 0x3f8, irq: 4, console: true }), debugExit({ port: 0xf4 })],
  boot: { image: './guest.bin', load: 0x7c00, mode: 'real' },
  hooks: { beforeBoot(vm) { vm.log(vm.name); } },
});
