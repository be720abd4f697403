// Internal (not importable by definitions): builds the objects hooks see. `bridge` is a narrow host object; it is
// captured in closures only, so definition code can never reach it or any .NET type behind it.
({
  vm(bridge) {
    const MAX_READ = 16 * 1024 * 1024;
    const memory = Object.freeze({
      read(address, length) {
        if (!Number.isInteger(length) || length < 0 || length > MAX_READ) {
          throw new RangeError(`vm.memory.read: length must be an integer from 0 to ${MAX_READ}`);
        }
        const bytes = new Uint8Array(length);
        bridge.readMemory(address, bytes);
        return bytes;
      },
      write(address, bytes) {
        bridge.writeMemory(address, bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
      },
    });
    const console = Object.freeze({ send(text) { bridge.sendConsole(String(text)); } });
    // A container's files: text or bytes in, text out; paths are the guest's own and cannot leave its root.
    const files = Object.freeze({
      write(path, content, mode = 0o644) {
        bridge.writeFile(String(path), typeof content === 'string' ? content : Uint8Array.from(content), mode);
      },
      read(path) { return bridge.readFile(String(path)); },
    });
    return Object.freeze({
      name: bridge.name,
      log(message) { bridge.log(String(message)); },
      stop() { bridge.stop(); },
      memory,
      console,
      files,
    });
  },
  exit(reason, status, detail) {
    return Object.freeze({ reason, status, detail });
  },
  sourceOf(fn) {
    return Function.prototype.toString.call(fn);
  },
})
