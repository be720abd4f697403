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

// Every device type the models offer also has a constructor of its own name, added when the module is made
// (VirtshellModule.cs): uart16550(settings) is device('uart16550', settings).
export function device(type, settings) {
  if (typeof type !== 'string' || type === '') throw new TypeError('device(type, settings): type must be a non-empty string');
  return { ...settingsOf(type, settings), type, __source: callerLocation() };
}

// A container's root filesystem built by the project from Debian's busybox-static: container: { rootfs: busyboxRootfs() }.
export function busyboxRootfs() {
  return { busybox: true };
}

export function machine(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('machine(...) takes an object: { name, model, memory, devices, boot, hooks }');
  }
  return Object.freeze({ __virtshell: 'machine', options, __source: callerLocation() });
}
