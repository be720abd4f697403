import { machine, scriptDevice } from 'virtshell';

// Hooks driven by the tests: each one shows one thing the vm object can do.
let latch = 0;
export default machine({
  name: 'hooks',
  model: 'emulated',
  memory: '64K',
  devices: [
    scriptDevice({
      ports: [0x510, 0x511],
      read(port, size) { return port === 0x510 ? 0x42 : latch; },
      write(port, size, value) { latch = value; },
    }),
  ],
  hooks: {
    beforeBoot(vm) {
      vm.log('booting ' + vm.name);
      vm.memory.write(0x100, [1, 2, 3, 0xff]);
      const seen = vm.memory.read(0x200, 4);
      vm.log('read ' + Array.from(seen).join(','));
      vm.console.send('hi\n');
      vm.log('shape ' + Object.keys(vm).sort().join(',') + ' ' + typeof vm.GetType + ' ' + typeof vm.memory.GetType);
    },
    onConsoleLine(vm, line) {
      vm.log('line ' + line);
      if (line === 'stop') vm.stop();
    },
    onExit(vm, exit) { vm.log(`exit ${exit.reason} ${exit.status} ${exit.detail}`); },
  },
});
