// An adapted guest on the paravirtual model: a virtio-console for the console, the hypercall channel for a blob,
// a log line and power-off. No UART, no PIC or PIT of ours: KVM's irqchip and the guest's own drivers.
import { machine, virtioConsole, hypercalls } from 'virtshell';

export default machine({
  name: 'pv-hello',
  model: 'paravirtual',
  memory: '2M',
  devices: [
    virtioConsole({ transport: 'mmio', address: 0xd0000000, irq: 5 }),
    hypercalls({ port: 0x5650, blobs: { greeting: './guests/greeting.txt' } }),
  ],
  boot: { image: './guests/paravirtual-hello.bin', load: 0x100000, mode: 'protected' },
});
