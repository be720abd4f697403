// Internal (not importable by definitions), run once per engine before any definition code. It evaluates to a
// function of `report` (a host callback for rejected hook promises) that returns the engine's helpers. `report` and
// the host objects passed to vm() are captured in closures only, so definition code can never reach them.
//
// The built-ins used below are taken now, before definition code runs: a definition may replace globals and
// prototype methods, and the helpers must not call its replacements by accident (they run its code only where they
// mean to: getters, proxy traps, hooks).
(function hostBridge(report) {
  const apply = Reflect.apply;
  const keysOf = Object.keys;
  const freeze = Object.freeze;
  const setPrototypeOf = Object.setPrototypeOf;
  const isArray = Array.isArray;
  const isView = ArrayBuffer.isView;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const toText = String;
  const functionText = Function.prototype.toString;
  const promiseThen = Promise.prototype.then;

  // Arrays of the helpers' own have no prototype: nothing a definition puts on Array.prototype (index setters,
  // toJSON) can see or change what they hold.
  function list(...items) {
    setPrototypeOf(items, null);
    return items;
  }
  function add(items, item) {
    items[items.length] = item;
  }

  // The functions a definition gave (hooks, script-device read/write), each with the object it came from, which is
  // `this` when it is called. The host names them by index.
  const functions = list();

  const tooMany = freeze({});

  // Copies a definition's value into plain data once: JSON of tagged arrays, so that every kind survives and no key a
  // definition chooses can be mistaken for a tag. Strings, finite numbers, booleans and null are themselves;
  // ['u'] undefined, ['num', 'NaN'] a non-finite number, ['big', digits], ['a', items], ['a!', length] an array
  // longer than the limit, ['o', [[key, value]...]], ['f', index, source], ['x', what] a value that cannot be copied.
  // Getters and proxy traps run here, inside the caller's time budget.
  function snapshot(root, maxDepth, maxLength, maxValues) {
    const path = list();
    let budget = maxValues;
    function copy(value, depth, owner) {
      if (--budget < 0) throw tooMany;
      switch (typeof value) {
        case 'undefined': return list('u');
        case 'string': case 'boolean': return value;
        case 'number': return value - value === 0 ? value : list('num', toText(value));
        case 'bigint': return list('big', toText(value));
        case 'symbol': return list('x', 'a symbol');
        case 'function': {
          let source = '';
          try { source = apply(functionText, value, []); } catch { /* a callable proxy may refuse */ }
          add(functions, list(value, owner));
          return list('f', functions.length - 1, source);
        }
      }
      if (value === null) return null;
      for (let i = 0; i < path.length; i++) if (path[i] === value) return list('x', 'a cycle');
      if (depth >= maxDepth) return list('x', 'nested too deeply');
      if (isView(value)) return list('x', 'a typed array');
      path[path.length] = value;
      try {
        const items = list();
        if (isArray(value)) {
          const length = value.length;
          if (typeof length !== 'number' || !(length >= 0 && length <= maxLength && length % 1 === 0)) {
            return list('a!', toText(length));
          }
          for (let i = 0; i < length; i++) add(items, copy(value[i], depth + 1, value));
          return list('a', items);
        }
        const keys = keysOf(value);
        for (let i = 0; i < keys.length; i++) add(items, list(keys[i], copy(value[keys[i]], depth + 1, value)));
        return list('o', items);
      } finally {
        path.length--;
      }
    }
    try {
      return stringify(copy(root, 0, undefined));
    } catch (e) {
      if (e === tooMany) return stringify(list('x', `more than ${maxValues} values`));
      throw e;
    }
  }

  function describe(reason) {
    let message = 'undefined', stack = '';
    try { message = toText(reason); } catch { message = 'a value that cannot be shown'; }
    try {
      const s = reason !== null && typeof reason === 'object' ? reason.stack : undefined;
      if (typeof s === 'string') stack = s;
    } catch { /* a throwing getter leaves the stack out */ }
    return list(message, stack);
  }

  // When `value` is a promise, its rejection is reported to the host under `label`; the host throws it as the error
  // of the call it settles in (for an async hook, usually the call that started it).
  function watch(value, label) {
    if (value === null || typeof value !== 'object') return;
    try {
      apply(promiseThen, value, [undefined, (reason) => {
        const described = describe(reason);
        report(label, described[0], described[1]);
      }]);
    } catch { /* not a promise */ }
  }

  // Calls function `index` with `this` its owner, watching what it returns.
  function call(index, label, ...args) {
    const entry = functions[index];
    const result = apply(entry[0], entry[1], args);
    watch(result, label);
    return result;
  }

  // A script device's saveState(): its result as JSON text ('null' for undefined).
  function callToJson(index, label) {
    const text = stringify(call(index, label));
    return text === undefined ? 'null' : text;
  }

  // A script device's restoreState(state): the value saveState gave, made again from its JSON text.
  function callWithJson(index, label, text) {
    return call(index, label, parse(text));
  }

  return freeze({
    snapshot,
    call,
    callToJson,
    callWithJson,
    watch,
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
  });
})
