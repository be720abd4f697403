// pc-bios-disk.js on the Bochs BIOS (Debian package bochsbios) instead of SeaBIOS: the same disk, kernel and shell.
import { biosMachine } from './lib/pc-bios.js';
import { typeUnameAtShell } from './lib/linux-guest.js';

export default biosMachine({
  name: 'pc-bochs-bios-disk',
  bios: 'bochs',
  disk: '../out/linux/bios-disk.img',
  hooks: typeUnameAtShell({ machine: 'i[3-6]86', stopWhenAnswered: true }),
});
