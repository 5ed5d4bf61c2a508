// The task's shape: the error a handler throws, how a thrown value becomes
// the task's ASL error and cause, and `invoke`, which runs a handler on JSON
// text as the host does.

import { log } from './log.js';

/** The ASL error for an input that is not JSON (the host only sends JSON). */
export const INVALID_INPUT = 'InvalidTaskInput';
/** The ASL error for a result that cannot be written as JSON. */
export const INVALID_OUTPUT = 'InvalidTaskOutput';

/**
 * A handled failure: `throw new TaskError('PaymentDeclined', 'card expired')`.
 * `error` is the ASL error name Retry and Catch match; `cause` (the message)
 * is free text for people. A subclass is thrown with the cause alone,
 * `throw new PaymentDeclined('card expired')`: its ASL error is its static
 * `error` when set, else its class name.
 */
export class TaskError extends Error {
  constructor(...args) {
    const subclass = new.target !== TaskError;
    const error = subclass ? new.target.error || new.target.name : String(args[0] ?? '');
    const cause = subclass ? String(args[0] ?? '') : String(args[1] ?? '');
    super(cause);
    this.error = error;
    this.name = error;
  }

  get cause() {
    return this.message;
  }
}

/**
 * The [error, cause] a thrown value fails the task with: its `error` when it
 * is a non-empty string (TaskError, KvError, HttpError have one), else its
 * constructor's name (`TypeError`, as on AWS Lambda); the cause is its
 * message, or the value as text.
 */
export function errorOf(thrown) {
  if (thrown !== null && typeof thrown === 'object') {
    const error = typeof thrown.error === 'string' && thrown.error ? thrown.error : thrown.constructor?.name || 'Error';
    const cause = typeof thrown.message === 'string' ? thrown.message : typeof thrown.cause === 'string' ? thrown.cause : safeText(thrown);
    return [error, cause];
  }
  return ['Error', safeText(thrown)];
}

function safeText(value) {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Runs `handler(event, context)` (sync or async) on the JSON text `input`
 * as the host would: `{ output }` (JSON text) on success, `{ error, cause }`
 * when it threw. A thrown value that is not a TaskError has its stack logged
 * at level error.
 */
export async function invoke(handler, input, context = {}) {
  let event;
  try {
    event = JSON.parse(input);
  } catch (e) {
    return { error: INVALID_INPUT, cause: `the input is not JSON: ${e.message}` };
  }
  let result;
  try {
    result = await handler(event, { executionId: '', stateName: '', attempt: 1, taskToken: undefined, ...context });
  } catch (thrown) {
    if (!(thrown instanceof TaskError) && typeof thrown?.stack === 'string') {
      // SpiderMonkey's stack holds the frames only, not the message.
      const frames = thrown.stack.split('\n').slice(0, 8).join('\n');
      log.error(`${thrown.constructor?.name ?? 'Error'}: ${thrown.message}\n${frames}`);
    }
    const [error, cause] = errorOf(thrown);
    return { error, cause };
  }
  let output;
  try {
    output = JSON.stringify(result === undefined ? null : result);
  } catch (e) {
    return { error: INVALID_OUTPUT, cause: `the handler's result cannot be written as JSON: ${e.message}` };
  }
  return { output };
}
