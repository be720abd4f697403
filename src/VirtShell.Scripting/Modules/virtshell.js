// The built-in module 'virtshell' that every definition imports. Constructors return plain descriptors; the
// loader (C#) checks them and the machine model validates device types and settings. Every descriptor carries
// __source, the place in the definition that called the constructor, so errors found later can point at it.

// The first stack frame outside this module is the definition code that called a constructor.
// Saves and restores what a definition may have changed on Error, so its settings neither break this nor leak.
function callerLocation() {
  const saved = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  const holder = {};
  try {
    Error.prepareStackTrace = (_, sites) => sites;
    Error.stackTraceLimit = 10;
    Error.captureStackTrace(holder, callerLocation);
    for (const site of holder.stack) {
      const file = site.getFileName();
      if (file && file !== 'virtshell') {
        return { file, line: site.getLineNumber(), column: site.getColumnNumber() };
      }
    }
    return null;
  } finally {
    Error.prepareStackTrace = saved;
    Error.stackTraceLimit = savedLimit;
  }
}

function settingsOf(type, settings) {
  if (settings === undefined) return {};
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
    throw new TypeError(`${type}(...) takes an object of settings`);
  }
  return settings;
}

export function device(type, settings) {
  if (typeof type !== 'string' || type === '') throw new TypeError('device(type, settings): type must be a non-empty string');
  return { ...settingsOf(type, settings), type, __source: callerLocation() };
}

export function uart16550(settings) {
  return { ...settingsOf('uart16550', settings), type: 'uart16550', __source: callerLocation() };
}

export function debugExit(settings) {
  return { ...settingsOf('debugExit', settings), type: 'debugExit', __source: callerLocation() };
}

// The master disk of the primary IDE channel (0x1f0/0x3f6, IRQ 14) on a raw image: { image, readOnly }, image
// relative to the definition. For the emulated and hardware models; a paravirtual machine has virtioBlk instead.
export function ataDisk(settings) {
  return { ...settingsOf('ataDisk', settings), type: 'ataDisk', __source: callerLocation() };
}

// Firmware devices (docs/firmware.md): QEMU's fw_cfg, which SeaBIOS reads ({ serialConsole }: its screen on COM1),
// and QEMU's isa-debugcon, a port whose bytes go to the console ({ port }, 0x402 by default).
export function fwCfg(settings) {
  return { ...settingsOf('fwCfg', settings), type: 'fwCfg', __source: callerLocation() };
}

export function debugConsole(settings) {
  return { ...settingsOf('debugConsole', settings), type: 'debugConsole', __source: callerLocation() };
}

// Paravirtual devices: virtio on 'mmio' (address, irq) or 'pci' (slot, irq), and the hypercall channel
// (docs/hypercalls.md). virtioBlk's image and the hypercall blobs are paths relative to the definition.
export function virtioConsole(settings) {
  return { ...settingsOf('virtioConsole', settings), type: 'virtioConsole', __source: callerLocation() };
}

export function virtioBlk(settings) {
  return { ...settingsOf('virtioBlk', settings), type: 'virtioBlk', __source: callerLocation() };
}

export function virtioRng(settings) {
  return { ...settingsOf('virtioRng', settings), type: 'virtioRng', __source: callerLocation() };
}

export function hypercalls(settings) {
  return { ...settingsOf('hypercalls', settings), type: 'hypercalls', __source: callerLocation() };
}

// A container's root filesystem built by the project from Debian's busybox-static: container: { rootfs: busyboxRootfs() }.
export function busyboxRootfs() {
  return { busybox: true };
}

// ports: [numbers]; read(port, size) returns the value; write(port, size, value). Both run on the machine's
// script thread while the guest's CPU waits.
export function scriptDevice(settings) {
  return { ...settingsOf('scriptDevice', settings), type: 'scriptDevice', __source: callerLocation() };
}

export function machine(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('machine(...) takes an object: { name, model, memory, devices, boot, hooks }');
  }
  return Object.freeze({ __virtshell: 'machine', options, __source: callerLocation() });
}
