// A busybox container (OS-level virtualization through runc): the shell reads the console and answers on it.
// Needs root and Debian's runc and busybox-static (./build.ps1 -Task Bootstrap).
import { machine } from 'virtshell';

export default machine({
  name: 'c1',
  model: 'container',
  memory: '64M',                       // the container's memory limit (no swap on top)
  container: {
    rootfs: { busybox: true },         // or './rootfs-dir', or './image.tar'
    process: {
      args: ['/bin/sh', '-c', 'trap "exit 0" TERM; echo "container $(hostname) up"; while read line; do echo "you said: $line"; done'],
      env: ['PATH=/bin:/sbin:/usr/bin:/usr/sbin', 'HOME=/root'],
      cwd: '/',
      uid: 0,
      gid: 0,
    },
    hostname: 'c1',
    mounts: [{ type: 'tmpfs', target: '/run', size: '8M' }],
    resources: { cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, pids: 64 },
    network: 'none',                   // its own network namespace, loopback only
  },
  hooks: {
    beforeBoot(vm) { vm.log(`starting container ${vm.name}`); },
  },
});
