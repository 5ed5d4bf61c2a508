// The stepwasm guest SDK for JavaScript: write a Step Functions Task as a
// Lambda-style function and build it into a WebAssembly component with
// componentize-js (scripts/build-js-guest.sh).
//
// A handler project is a directory with `app.js` exporting
//
//     import { TaskError, log, kv, http } from 'stepwasm-guest';
//
//     export async function handler(event, context) {
//       // event: the task's input, parsed from JSON
//       // context: { executionId, stateName, attempt, taskToken }
//       if (event.amount > 1000) throw new TaskError('PaymentVerificationFailed', 'amount over limit');
//       log.info(`approved on attempt ${context.attempt}`);
//       return { approved: true };             // written back as JSON
//     }
//
// Errors: whatever the handler throws fails the task. Its ASL error is the
// thrown value's `error` when it is a non-empty string (TaskError, KvError,
// HttpError), else its constructor's name (`TypeError`, as on AWS Lambda);
// its cause is the message. A thrown value that is not a TaskError also logs
// its stack at level error.
//
// Outside a component (Node, for unit tests) the same module works: log lines
// are kept in `log.lines`, kv is a Map (`kv.clear()`), http.fetch throws;
// `invoke(handler, inputJson, context)` runs a handler as the host would.

export { TaskError, INVALID_INPUT, INVALID_OUTPUT, errorOf, invoke } from './task.js';
export { log } from './log.js';
export { kv, KvError, KV_FAILED } from './kv.js';
export { http, HttpError, HTTP_FAILED, Response } from './http.js';
