// A PC whose guest (guests/counting.asm) counts on the serial port, one line per two PIT ticks: a checkpoint restored
// into it must go on from the count it was taken at.
import { machine, uart16550, debugExit } from 'virtshell';

export default machine({
  name: 'counting',
  model: 'emulated',
  memory: '1M',
  devices: [
    uart16550({ port: 0x3f8, irq: 4, console: true }),
    debugExit({ port: 0xf4 }),
  ],
  boot: { image: './guests/counting.bin', load: 0x7c00, mode: 'real' },
});
