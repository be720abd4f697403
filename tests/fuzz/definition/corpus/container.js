import { machine } from 'virtshell';
export default machine({
  name: 'c', model: 'container', memory: '64M',
  container: {
    rootfs: { busybox: true },
    process: { args: ['/bin/sh'], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0 },
    mounts: [{ type: 'tmpfs', target: '/run', size: '8M' }],
    resources: { pids: 64 }, network: 'none',
  },
});
