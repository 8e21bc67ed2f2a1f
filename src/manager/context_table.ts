/**
 * The context table an invocation returns, built only when someone looks at it.
 *
 * Its keys are `request_id + plugin uuid` (C50). A gateway sends a new request id per request, so
 * every key is a string V8 has never seen: hashing and interning it and adding it to an object
 * cost about 1 µs per plugin, more than the rest of a no-op plugin call (issue 13). Many callers
 * never read the table (post hooks, hooks without a post hook), and those that pass it back
 * unread as `localContexts` need no keys either: the contexts are found by plugin. So the
 * invocation records (plugin, context) pairs and returns a `Proxy` whose every trap first
 * builds the real table, then forwards to it: whoever reads, writes, enumerates or copies the
 * table sees exactly the eager one. Printing sees it too: `console.log` and `Deno.inspect` look at
 * a proxy's target without traps, so the target inherits (from a prototype the proxy hides)
 * inspect hooks that build the table and show it as a plain object.
 *
 * @module
 */
import type { PluginContext, PluginContextTable } from "../context.ts";
import type { HookRef } from "./registry.ts";

/** Read through a table's `get` trap to reach its source without building the table. */
const SOURCE: unique symbol = Symbol("cpex.contextTable");

/** Returns the object it is given, so a subclass can add a private field to any object. */
class Stamp {
  constructor(target: object) {
    return target as Stamp;
  }
}

/** Links a table's target to its source with a private field (invisible to every reflection). */
class Stamped extends Stamp {
  readonly #source: ContextTableSource;

  constructor(target: object, source: ContextTableSource) {
    super(target);
    this.#source = source;
  }

  /** The source of a stamped target, else undefined. */
  static sourceOf(target: object): ContextTableSource | undefined {
    return #source in target ? (target as Stamped).#source : undefined;
  }
}

/** A plain copy of the built table behind `target` (what printing shows). */
function shown(target: object): Record<string, PluginContext> {
  const source = Stamped.sourceOf(target);
  return source ? { ...source.table } : { ...target } as Record<string, PluginContext>;
}

/**
 * The prototype of every table target: `Object.prototype` plus the Deno and Node inspect
 * hooks. The proxy reports `Object.prototype` as the table's prototype.
 */
const TARGET_PROTO: object = Object.create(Object.prototype, {
  [Symbol.for("Deno.customInspect")]: {
    value(this: object, inspect: (value: unknown, options?: unknown) => string, options: unknown) {
      return inspect(shown(this), options);
    },
  },
  [Symbol.for("nodejs.util.inspect.custom")]: {
    value(
      this: object,
      _depth: number,
      options: unknown,
      inspect: (value: unknown, options?: unknown) => string,
    ) {
      return inspect(shown(this), options);
    },
  },
});

/**
 * The contexts of one invocation in the order they were entered, and the proxy handler of the
 * table that shows them.
 */
export class ContextTableSource implements ProxyHandler<PluginContextTable> {
  /** Plugin, context, plugin, context, ... in the order they were entered. */
  readonly #entries: (HookRef | PluginContext)[] = [];
  /** The real table: empty until built. */
  readonly #target: PluginContextTable;
  #built = false;
  #proxy: PluginContextTable | null = null;

  /** A source for the request `requestId` (the invocation's `global_context.request_id`). */
  constructor(readonly requestId: string) {
    this.#target = new Stamped(Object.create(TARGET_PROTO), this) as unknown as PluginContextTable;
  }

  /** The table (the same proxy every time). */
  get table(): PluginContextTable {
    return this.#proxy ??= new Proxy(this.#target, this);
  }

  /** Enters `context` as `hookRef`'s. */
  add(hookRef: HookRef, context: PluginContext): void {
    if (this.#built) this.#target[this.requestId + hookRef.ref.uuid] = context;
    else this.#entries.push(hookRef, context);
  }

  /**
   * The context `table` holds for `hookRef` in request `requestId` (`table[requestId + uuid]`).
   * A table of ours that nobody built is searched by plugin, without making the key.
   */
  static find(
    table: PluginContextTable,
    requestId: string,
    hookRef: HookRef,
  ): PluginContext | undefined {
    const source = (table as { [SOURCE]?: ContextTableSource })[SOURCE];
    if (source !== undefined && !source.#built && source.requestId === requestId) {
      const uuid = hookRef.ref.uuid;
      const entries = source.#entries;
      // The last entry wins, as a later assignment of the same key would.
      for (let i = entries.length - 2; i >= 0; i -= 2) {
        if ((entries[i] as HookRef).ref.uuid === uuid) return entries[i + 1] as PluginContext;
      }
      return undefined;
    }
    return table[requestId + hookRef.ref.uuid];
  }

  #build(): PluginContextTable {
    const target = this.#target;
    if (this.#built) return target;
    this.#built = true;
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i += 2) {
      target[this.requestId + (entries[i] as HookRef).ref.uuid] = entries[i + 1] as PluginContext;
    }
    entries.length = 0;
    return target;
  }

  // The traps: build, then do what the real table does.

  /** @internal */
  get(_: PluginContextTable, key: string | symbol, receiver: unknown): unknown {
    if (key === SOURCE) return this;
    return Reflect.get(this.#build(), key, receiver);
  }
  /** @internal */
  set(_: PluginContextTable, key: string | symbol, value: unknown, receiver: unknown): boolean {
    return Reflect.set(this.#build(), key, value, receiver);
  }
  /** @internal */
  has(_: PluginContextTable, key: string | symbol): boolean {
    return Reflect.has(this.#build(), key);
  }
  /** @internal */
  deleteProperty(_: PluginContextTable, key: string | symbol): boolean {
    return Reflect.deleteProperty(this.#build(), key);
  }
  /** @internal */
  ownKeys(_: PluginContextTable): (string | symbol)[] {
    return Reflect.ownKeys(this.#build());
  }
  /** @internal */
  getOwnPropertyDescriptor(
    _: PluginContextTable,
    key: string | symbol,
  ): PropertyDescriptor | undefined {
    return Reflect.getOwnPropertyDescriptor(this.#build(), key);
  }
  /** @internal */
  defineProperty(_: PluginContextTable, key: string | symbol, d: PropertyDescriptor): boolean {
    return Reflect.defineProperty(this.#build(), key, d);
  }
  /** @internal */
  preventExtensions(_: PluginContextTable): boolean {
    const target = this.#build();
    // A non-extensible proxy must report its target's real prototype: make it the plain one.
    if (Reflect.getPrototypeOf(target) === TARGET_PROTO) {
      Reflect.setPrototypeOf(target, Object.prototype);
    }
    return Reflect.preventExtensions(target);
  }
  /** @internal */
  getPrototypeOf(_: PluginContextTable): object | null {
    const proto = Reflect.getPrototypeOf(this.#target);
    return proto === TARGET_PROTO ? Object.prototype : proto;
  }
  /** @internal */
  setPrototypeOf(_: PluginContextTable, proto: object | null): boolean {
    return Reflect.setPrototypeOf(this.#build(), proto);
  }
  /** @internal */
  isExtensible(_: PluginContextTable): boolean {
    return Reflect.isExtensible(this.#build());
  }
}
