import { machine } from 'virtshell';
export default machine({ name: 'l', model: 'emulated', memory: '64M', boot: { type: 'linux', image: './guest.bin', initrd: './disk.img', cmdline: 'console=ttyS0' } });
