// A PC whose guest (guests/scribbler.asm) writes random pages of its RAM for ever, a '.' on the serial port every
// 65536 writes: a live migration has to send what it keeps changing (pre-copy rounds).
import { machine, uart16550, debugExit } from 'virtshell';

export default machine({
  name: 'scribbler',
  model: 'emulated',
  memory: '8M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, console: true }),
    debugExit({ port: 0xf4 }),
  ],
  boot: { image: './guests/scribbler.bin', load: 0x7c00, mode: 'real' },
});
