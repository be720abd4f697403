import { machine } from 'virtshell';

function check(line) {
  if (line === 'bad') throw new Error('bad line seen');
}

export default machine({
  name: 'throws',
  model: 'emulated',
  memory: '64K',
  hooks: {
    beforeBoot(vm) { vm.memory.read(0x7fff0000, 4); },
    onConsoleLine(vm, line) { check(line); },
  },
});
