// Customer notification, as modules/notify does it: composes the message
// the customer would be sent (channel, recipient, subject, body) and returns
// the input with it added as `notification`. Two kinds: `order-confirmed`
// (the default; the amount comes from `amount` or the payment's
// `paymentResult`) and `payment-failed` (the caught error in `reason`). A
// missing or malformed address, or another kind, is the ASL error
// `NotificationFailed`.

import { INVALID_INPUT, TaskError, log } from 'stepwasm-guest';

class NotificationFailed extends TaskError {}

function badInput(what) {
  return new TaskError(INVALID_INPUT, `input does not match the handler's input type: ${what}`);
}

/** A string quoted as Rust's `{:?}` shows it (what modules/notify says). */
function debugStr(s) {
  const escapes = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0' };
  // Control characters as \u{..} (StarlingMonkey has no Unicode property escapes).
  const control = (c) => c.codePointAt(0) < 0x20 || (c.codePointAt(0) >= 0x7f && c.codePointAt(0) <= 0x9f);
  return `"${[...s].map((c) => escapes[c] ?? (control(c) ? `\\u{${c.codePointAt(0).toString(16)}}` : c)).join('')}"`;
}

function validEmail(email) {
  const at = email.indexOf('@');
  if (at < 0) return false;
  const [user, domain] = [email.slice(0, at), email.slice(at + 1)];
  return user.length > 0 && domain.includes('.') && !domain.startsWith('.') && !domain.endsWith('.');
}

function str(obj, name, where, fallback) {
  if (!(name in obj) && fallback !== undefined) return fallback;
  const value = obj[name];
  if (typeof value !== 'string') throw badInput(`field \`${name}\` of ${where} must be a string`);
  return value;
}

function number(value, where) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw badInput(`${where} must be a number`);
  return value;
}

function messageFor(event) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw badInput(`the input must be a JSON object, not ${Array.isArray(event) ? 'list' : typeof event}`);
  }
  const kind = str(event, 'kind', 'the request', 'order-confirmed');
  const orderId = str(event, 'orderId', 'the request');
  const { customer } = event;
  if (customer === null || typeof customer !== 'object' || Array.isArray(customer)) throw badInput('missing or malformed field `customer`');
  const name = str(customer, 'name', 'the customer');
  const email = str(customer, 'email', 'the customer');
  const amount = number(event.amount, '`amount`');
  let charged;
  const payment = event.paymentResult;
  if (payment !== null && typeof payment === 'object' && !Array.isArray(payment)) {
    charged = number(payment.amount, '`paymentResult.amount`');
    if (charged === undefined) throw badInput('missing field `amount` in `paymentResult`');
  } else if (payment !== undefined && payment !== null) {
    throw badInput('`paymentResult` must be an object');
  }
  const { reason } = event;
  let whyError;
  let whyCause;
  if (reason !== undefined && reason !== null) {
    if (typeof reason !== 'object' || Array.isArray(reason)) throw badInput('`reason` must be an object');
    whyError = str(reason, 'Error', 'the reason');
    whyCause = str(reason, 'Cause', 'the reason', '');
  }

  if (!validEmail(email)) throw new NotificationFailed(`customer ${name} has no valid email address (${debugStr(email)})`);
  let subject;
  let body;
  if (kind === 'order-confirmed') {
    subject = `Order ${orderId} confirmed`;
    const a = amount ?? charged;
    body =
      a !== undefined
        ? `Hello ${name}, we received your payment of ${a.toFixed(2)} and your order is on its way.`
        : `Hello ${name}, your order is on its way.`;
  } else if (kind === 'payment-failed') {
    const why = reason === undefined || reason === null ? 'no reason given' : whyCause || whyError;
    subject = `Payment for order ${orderId} failed`;
    body = `Hello ${name}, we could not take payment for your order: ${why}. Please check your card details and try again.`;
  } else {
    throw new NotificationFailed(`unknown notification kind ${debugStr(kind)}`);
  }
  log.info(`composed ${kind} message for order ${orderId}`);
  return { channel: 'email', to: email, subject, body };
}

/** Builds the message for the request's `kind`; returns the input with `notification`. */
export function handler(event, context) {
  event.notification = messageFor(event);
  return event;
}
