import { machine } from 'virtshell';

export default machine({
  name: 'heaphog',
  model: 'emulated',
  memory: '64K',
  hooks: {
    beforeBoot(vm) {
      const hoard = [];
      for (;;) hoard.push(new Array(10000).fill('x' + hoard.length));
    },
    onExit(vm, exit) { vm.log('exit after hog'); },
  },
});
