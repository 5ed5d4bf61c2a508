// A deliberately misbehaving JavaScript handler for the host's limit tests
// (tests/it/js_handlers.rs), the JavaScript counterpart of modules/hostile.
// The input's `mode` picks the misbehaviour: `loop` (spins forever), `alloc`
// (grows memory without bound), `recurse` (recursion until SpiderMonkey's own
// "too much recursion" InternalError), `huge` (returns `bytes` bytes of JSON),
// `ok` (behaves), `fail` (throws a TaskError named `error` with `cause`),
// `raise` (an unexpected TypeError), `print` (console.log and console.error,
// which go nowhere useful but must not fail), `never` (an async handler
// whose promise never settles).

import { TaskError } from 'stepwasm-guest';

function recurse(depth) {
  return recurse(depth + 1) + 1;
}

export async function handler(event) {
  const mode = event !== null && typeof event === 'object' ? event.mode ?? '' : '';
  switch (mode) {
    case 'loop': {
      let i = 0;
      for (;;) i += 1;
    }
    case 'alloc': {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1 << 20).fill(1));
    }
    case 'recurse':
      return recurse(0);
    case 'huge':
      return 'x'.repeat(Number(event.bytes ?? 1 << 20));
    case 'ok':
      return { fine: true };
    case 'fail':
      throw new TaskError(event.error ?? 'HostileFailure', event.cause ?? 'failed on purpose');
    case 'raise':
      return null.property;
    case 'print':
      console.log('to stdout');
      console.error('to stderr');
      return { printed: true };
    case 'never':
      return new Promise(() => {});
    default:
      throw new TaskError('UnknownMode', `mode ${JSON.stringify(mode)}`);
  }
}
