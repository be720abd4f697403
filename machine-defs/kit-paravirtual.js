// The guest kit (guests/kit: freestanding C with its own virtio-console and virtio-blk drivers, built by
// scripts/build-guest-kit.ps1) on the paravirtual model. It greets on the virtio-console, reads its settings from
// the 'kit-config' blob through the hypercall channel, writes a pattern to the disk, reads it back and powers off by
// hypercall with status 42. The disk is a raw image the build makes (1 MiB of zeros); a fresh one is as good.
import { machine, virtioConsole, virtioBlk, hypercalls } from 'virtshell';

export default machine({
  name: 'kit',
  model: 'paravirtual',
  memory: '4M',
  devices: [
    virtioConsole({ address: 0xd0000000, irq: 5 }),
    virtioBlk({ image: './guests/kit/disk.img', address: 0xd0000200, irq: 6 }),
    hypercalls({ port: 0x5650, blobs: { 'kit-config': './guests/kit/selftest.cfg' } }),
  ],
  boot: { image: './guests/kit/kit.bin', load: 0x100000, mode: 'protected' },
});
