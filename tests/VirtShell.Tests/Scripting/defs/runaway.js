import { machine } from 'virtshell';

export default machine({
  name: 'runaway',
  model: 'emulated',
  memory: '64K',
  hooks: {
    beforeBoot(vm) {
      while (true) {}
    },
    onConsoleLine(vm, line) {
      if (line === 'spin') for (;;) {}
      vm.log('line ' + line);
    },
    onExit(vm, exit) { vm.log('exit still runs'); },
  },
});
