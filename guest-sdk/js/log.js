// Log lines a handler writes; the host attaches them to the execution (and
// caps them). Outside a component the lines are kept in `log.lines`.

import { log as imported } from './capabilities.js';

function write(level, message) {
  const text = String(message);
  if (imported) {
    imported(level, text);
  } else {
    log.lines.push([level, text]);
  }
}

export const log = {
  /** Natively: every [level, message] written, for tests. */
  lines: [],
  debug: (message) => write('debug', message),
  info: (message) => write('info', message),
  warn: (message) => write('warn', message),
  error: (message) => write('error', message),
};
