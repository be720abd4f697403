import { machine, scriptDevice } from 'virtshell';

// Run through a real Machine by ScriptedMachineTests with a fake model that plays the guest.
let answers = 0;
export default machine({
  name: 'scripted',
  model: 'fake',
  memory: '64K',
  devices: [
    scriptDevice({ ports: [0x510], read(port, size) { answers++; return 0x40 + answers; } }),
  ],
  hooks: {
    beforeBoot(vm) { vm.log('booting ' + vm.name); vm.memory.write(0x10, [0xaa]); },
    onConsoleLine(vm, line) {
      vm.log('guest said ' + line);
      if (line.startsWith('PANIC')) vm.stop();
    },
    onExit(vm, exit) { vm.log(`exit ${exit.reason} after ${answers} reads`); },
  },
});
