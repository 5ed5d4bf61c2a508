// Payment verification, as modules/payment does it (same rules, messages,
// authorisation codes and output): approves or rejects an order's card
// payment. Rules, checked in order (the first that fails names the reason):
// the currency is one we accept; the card number is 12-19 digits and passes
// the Luhn checksum; the card is not on the decline list; the amount charged
// equals the order total (sum of price x quantity); the amount is positive
// and within the per-order limit. A rejection is the ASL error
// `PaymentVerificationFailed`; an approval is the order with the verdict
// added as `paymentResult`.
//
// With a `gateway` URL in the input, an order that passes the local rules is
// then authorised by that gateway through the http capability: a POST of
// {orderId, amount, currency, cardLast4}; {approved: true, authorization}
// approves it, {approved: false, reason} rejects it, anything else (or no
// answer) is `PaymentGatewayUnavailable`.

import { INVALID_INPUT, TaskError, http, HttpError, log } from 'stepwasm-guest';

/** Largest amount, in cents, a single order may charge. */
const LIMIT_CENTS = 10_000_00;
/** Cards that pass the checksum but that the (simulated) issuer declines. */
const DECLINED_CARDS = ['4000000000000002', '4000000000009995'];
const CURRENCIES = ['USD', 'EUR', 'GBP'];

class PaymentVerificationFailed extends TaskError {}
class PaymentGatewayUnavailable extends TaskError {}

function reject(cause) {
  log.warn(`payment rejected: ${cause}`);
  return new PaymentVerificationFailed(cause);
}

function unavailable(cause) {
  log.warn(`payment gateway unavailable: ${cause}`);
  return new PaymentGatewayUnavailable(cause);
}

function badInput(what) {
  return new TaskError(INVALID_INPUT, `input does not match the handler's input type: ${what}`);
}

/** Rust's `x.round() as i64` for the amounts here: half away from zero. */
function toCents(amount) {
  const x = amount * 100;
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function luhnOk(digits) {
  let total = 0;
  [...digits].reverse().forEach((c, i) => {
    let d = Number(c);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    total += d;
  });
  return total % 10 === 0;
}

/** FNV-1a, 64 bits: the stable hash behind the authorisation code. */
function fnv1a(text) {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(text)) {
    h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

function field(obj, name, kind, where, optional = false) {
  const value = obj[name];
  if ((value === undefined || value === null) && optional) return undefined;
  if (!(name in obj)) throw badInput(`missing field \`${name}\` in ${where}`);
  const ok = kind === 'array' ? Array.isArray(value) : kind === 'object' ? value !== null && typeof value === 'object' && !Array.isArray(value) : typeof value === kind;
  if (!ok) throw badInput(`field \`${name}\` of ${where} has the wrong type`);
  return value;
}

function readRequest(event) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw badInput(`the input must be a JSON object, not ${Array.isArray(event) ? 'list' : typeof event}`);
  }
  const payment = field(event, 'payment', 'object', 'the order');
  const items = field(event, 'items', 'array', 'the order').map((item) => {
    if (item === null || typeof item !== 'object') throw badInput('an item must be an object');
    const quantity = field(item, 'quantity', 'number', 'an item');
    if (!Number.isInteger(quantity) || quantity < 0 || quantity > 0xffffffff) throw badInput(`quantity ${quantity} of an item is out of range`);
    return { sku: field(item, 'sku', 'string', 'an item'), quantity, price: field(item, 'price', 'number', 'an item') };
  });
  return {
    orderId: field(event, 'orderId', 'string', 'the order'),
    cardNumber: field(payment, 'cardNumber', 'string', 'the payment'),
    amount: field(payment, 'amount', 'number', 'the payment'),
    currency: field(payment, 'currency', 'string', 'the payment'),
    items,
    gateway: field(event, 'gateway', 'string', 'the order', true),
  };
}

/** The gateway's answer: its authorisation code when approved. */
function gatewayVerdict(url, resp) {
  if (!resp.ok) throw unavailable(`gateway ${url} answered HTTP ${resp.status}`);
  let reply;
  try {
    reply = resp.json();
  } catch (e) {
    throw unavailable(`gateway ${url} answered HTTP ${resp.status} with an unreadable body: ${e.message}`);
  }
  const isObject = reply !== null && typeof reply === 'object';
  const { approved, authorization, reason } = isObject ? reply : {};
  const optionalString = (v) => v === undefined || v === null || typeof v === 'string';
  if (typeof approved !== 'boolean' || !optionalString(authorization) || !optionalString(reason)) {
    throw unavailable(`gateway ${url} answered HTTP ${resp.status} with an unreadable body: not the gateway's reply shape`);
  }
  if (approved && authorization) return authorization;
  if (approved) throw unavailable(`gateway ${url} approved the payment without an authorization code`);
  throw reject(`declined by the payment gateway: ${reason || 'no reason given'}`);
}

function authorise(url, body) {
  let resp;
  try {
    resp = http.fetch(url, { method: 'POST', json: body, headers: [['accept', 'application/json']] });
  } catch (e) {
    if (e instanceof HttpError) throw unavailable(`no response from gateway ${url}: ${e.message}`);
    throw e;
  }
  return gatewayVerdict(url, resp);
}

function check(req, context) {
  const { currency } = req;
  if (!CURRENCIES.includes(currency)) throw reject(`currency ${currency} is not accepted`);
  const card = [...req.cardNumber].filter((c) => c !== ' ' && c !== '-').join('');
  if (card.length < 12 || card.length > 19 || !/^[0-9]+$/.test(card)) throw reject('card number must be 12 to 19 digits');
  if (!luhnOk(card)) throw reject('card number fails the Luhn checksum');
  if (DECLINED_CARDS.includes(card)) throw reject(`card ending ${card.slice(-4)} was declined by the issuer`);
  const charged = toCents(req.amount);
  const total = req.items.reduce((sum, { quantity, price }) => sum + toCents(price) * quantity, 0);
  if (charged !== total) {
    throw reject(`amount ${(charged / 100).toFixed(2)} does not match the order total ${(total / 100).toFixed(2)}`);
  }
  if (charged <= 0) throw reject('amount must be positive');
  if (charged > LIMIT_CENTS) {
    throw reject(`amount ${(charged / 100).toFixed(2)} exceeds the per-order limit of ${(LIMIT_CENTS / 100).toFixed(2)}`);
  }
  const amount = charged / 100;
  const cardLast4 = card.slice(-4);
  let authorizationCode;
  if (req.gateway !== undefined) {
    authorizationCode = authorise(req.gateway, { orderId: req.orderId, amount, currency, cardLast4 });
  } else {
    const code = fnv1a(`${req.orderId}:${charged}:${currency}`) & 0xffffffffn;
    authorizationCode = `AUTH-${code.toString(16).toUpperCase().padStart(8, '0')}`;
  }
  log.info(`order ${req.orderId} approved on attempt ${context.attempt}`);
  return { approved: true, authorizationCode, amount, currency, cardLast4 };
}

/** Verifies the order's payment; returns the order with `paymentResult`. */
export function handler(event, context) {
  const verdict = check(readRequest(event), context);
  event.paymentResult = verdict;
  return event;
}
