import { machine, debugExit } from 'virtshell';
import { memory, console1 } from './lib/serial.js';

export default machine({
  name: 'imports',
  model: 'emulated',
  memory,
  devices: [console1(), debugExit({ port: 0xf4 })],
});
