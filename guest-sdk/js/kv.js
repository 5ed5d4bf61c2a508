// The key-value store of the resource's kv grant (its namespace). Writes are
// staged during the invocation and committed together only when the task
// succeeds; reads see the invocation's own writes. Keys and values are
// strings; getJson/setJson store JSON text. A refused call (a limit, a store
// failure, a value that is not JSON, no kv grant) throws KvError, which fails
// the task with the ASL error `KvFailed` unless the handler catches it.
// Outside a component the store is a Map (`kv.clear()` empties it).

import { inComponent, kv as imported } from './capabilities.js';

/** The ASL error a KvError fails the task with. */
export const KV_FAILED = 'KvFailed';

export class KvError extends Error {
  constructor(message) {
    super(message);
    this.error = KV_FAILED;
    this.name = 'KvError';
  }
}

const native = new Map();

/** A host call: its error (a string, as jco throws it) as a KvError. */
function call(f) {
  try {
    return f();
  } catch (e) {
    throw new KvError(typeof e?.payload === 'string' ? e.payload : String(e?.message ?? e));
  }
}

function notGranted() {
  return new KvError("this component was built without the kv capability (build it with 'log,kv')");
}

export const kv = {
  /** The value stored under `key`, or undefined. */
  get(key) {
    if (imported) return call(() => imported.get(String(key))) ?? undefined;
    if (inComponent) throw notGranted();
    return native.get(String(key));
  },
  /** Stages `value` (a string) under `key`. */
  set(key, value) {
    if (typeof value !== 'string') throw new KvError(`the value for key ${JSON.stringify(key)} must be a string, not ${typeof value}`);
    if (imported) return void call(() => imported.set(String(key), value));
    if (inComponent) throw notGranted();
    native.set(String(key), value);
  },
  /** Stages the removal of `key`. */
  delete(key) {
    if (imported) return void call(() => imported.delete(String(key)));
    if (inComponent) throw notGranted();
    native.delete(String(key));
  },
  /** The value under `key` parsed as JSON, or undefined when there is none. */
  getJson(key) {
    const text = kv.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new KvError(`the value under key ${JSON.stringify(key)} is not JSON: ${e.message}`);
    }
  },
  /** Stages `value` written as JSON under `key`. */
  setJson(key, value) {
    let text;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new KvError(`cannot serialise the value for key ${JSON.stringify(key)}: ${e.message}`);
    }
    if (text === undefined) throw new KvError(`cannot serialise the value for key ${JSON.stringify(key)}: ${typeof value}`);
    kv.set(key, text);
  },
  /** Natively: empties the store (tests). */
  clear() {
    if (inComponent) throw new KvError('kv.clear() is for native tests only');
    native.clear();
  },
};
