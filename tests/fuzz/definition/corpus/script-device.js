import { machine, scriptDevice, ataDisk } from 'virtshell';
let n = 0;
export default machine({
  name: 's', model: 'hardware', memory: '4M', console: { maxSize: '1M', rate: 1000 },
  devices: [scriptDevice({ ports: [0x80], read(p, s) { return n; }, write(p, s, v) { n = v; } }), ataDisk({ image: './disk.img' })],
  boot: { type: 'multiboot', image: './guest.bin', cmdline: 'x' },
});
