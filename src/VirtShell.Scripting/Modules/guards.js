// Internal, run once per engine before any definition code.
(function guard(maxLength) {
  // V8 runs some script code from tasks of its own, outside any call the host makes: FinalizationRegistry
  // callbacks, and the promise reactions of Atomics.waitAsync and WebAssembly's asynchronous compilation. No time
  // budget covers those, and such code cannot be interrupted, so a definition does not get them.
  delete globalThis.FinalizationRegistry;
  delete globalThis.WebAssembly;
  delete Atomics.waitAsync;

  // Some V8 builtins loop over an array's length in C++: on a huge sparse array they ignore interrupts (so the hook
  // budget cannot stop them) or abort the whole process ("Fatal JavaScript out of memory: invalid table size"), past
  // any heap limit. A definition has no use for arrays longer than its heap could hold densely, so these builtins
  // refuse them with a RangeError instead.
  const names = [
    'fill', 'copyWithin', 'reverse', 'sort', 'toReversed', 'toSorted', 'toSpliced', 'with',
    'includes', 'indexOf', 'lastIndexOf', 'join', 'toString', 'toLocaleString', 'concat', 'slice', 'splice',
    'flat', 'flatMap', 'map', 'filter', 'forEach', 'reduce', 'reduceRight', 'every', 'some', 'find',
    'findIndex', 'findLast', 'findLastIndex', 'entries', 'keys', 'values',
  ];
  const proto = Array.prototype;
  for (const name of names) {
    const original = proto[name];
    if (typeof original !== 'function') continue;
    const guarded = {
      [name](...args) {
        const length = this == null ? 0 : Number(this.length);
        if (length > maxLength) {
          throw new RangeError(`Array.prototype.${name} on ${length} elements: definitions are limited to arrays of ${maxLength}`);
        }
        return Reflect.apply(original, this, args);
      },
    }[name];
    Object.defineProperty(proto, name, { value: guarded, writable: true, configurable: true, enumerable: false });
  }
})
