import { machine, virtioConsole, virtioBlk, virtioRng, hypercalls } from 'virtshell';
export default machine({
  name: 'p', model: 'paravirtual', memory: '2M',
  devices: [
    virtioConsole({ transport: 'mmio', address: 0xd0000000, irq: 5 }),
    virtioBlk({ transport: 'pci', slot: 3, irq: 11, image: './disk.img', readOnly: true }),
    virtioRng({ transport: 'mmio', address: 0xd0000200, irq: 6 }),
    hypercalls({ port: 0x5650, blobs: { g: './guest.bin' } }),
  ],
  boot: { image: './guest.bin', load: 0x100000, mode: 'protected' },
});
