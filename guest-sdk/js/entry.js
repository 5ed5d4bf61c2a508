// The component's export, for componentize-js: scripts/build-js-guest.sh
// builds an entry module that passes the project's `handler` here; the
// result is `stepwasm:task/handler`, whose `handle` runs it (awaiting it when
// async) and returns its JSON text, or throws the task-error the host records.

import { invoke } from './task.js';

export function handlerExport(handler, source) {
  if (typeof handler !== 'function') {
    throw new TypeError(`${source} must export a function handler(event, context)`);
  }
  return {
    async handle(input, ctx) {
      const context = { executionId: ctx.executionId, stateName: ctx.stateName, attempt: ctx.attempt, taskToken: ctx.taskToken };
      const result = await invoke(handler, input, context);
      if (result.error !== undefined) {
        // jco: a thrown value is the `err` of the export's result.
        throw { error: result.error, cause: result.cause };
      }
      return result.output;
    },
  };
}
