// The order handlers' logic natively (node --test), with the SDK's native
// fallbacks: log lines kept in log.lines, kv a Map. The components are
// checked against the Rust handlers' outputs by tests/it/js_handlers.rs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invoke, kv, log } from 'stepwasm-guest';
import * as payment from './payment/app.js';
import * as inventory from './inventory/app.js';
import * as notify from './notify/app.js';

const order = () => ({
  orderId: 'ORD-1001',
  customer: { name: 'Ada Lovelace', email: 'ada@example.com' },
  payment: { cardNumber: '4111 1111 1111 1111', amount: 64.97, currency: 'USD' },
  items: [
    { sku: 'WIDGET-1', quantity: 3, price: 19.99 },
    { sku: 'GADGET-2', quantity: 1, price: 5.0 },
  ],
});

test('payment approves a valid order with a stable authorization code', async () => {
  const { output } = await invoke(payment.handler, JSON.stringify(order()), { attempt: 1 });
  const result = JSON.parse(output).paymentResult;
  assert.deepEqual(result, { approved: true, authorizationCode: result.authorizationCode, amount: 64.97, currency: 'USD', cardLast4: '1111' });
  assert.match(result.authorizationCode, /^AUTH-[0-9A-F]{8}$/);
  const again = await invoke(payment.handler, JSON.stringify(order()), { attempt: 2 });
  assert.equal(JSON.parse(again.output).paymentResult.authorizationCode, result.authorizationCode);
});

test('payment rejects a declined card, a wrong total and a bad input', async () => {
  const declined = order();
  declined.payment.cardNumber = '4000 0000 0000 0002';
  declined.payment.amount = 19.99;
  declined.items = [{ sku: 'WIDGET-1', quantity: 1, price: 19.99 }];
  assert.deepEqual(await invoke(payment.handler, JSON.stringify(declined)), {
    error: 'PaymentVerificationFailed',
    cause: 'card ending 0002 was declined by the issuer',
  });
  const wrong = order();
  wrong.payment.amount = 10;
  assert.deepEqual(await invoke(payment.handler, JSON.stringify(wrong)), {
    error: 'PaymentVerificationFailed',
    cause: 'amount 10.00 does not match the order total 64.97',
  });
  assert.equal((await invoke(payment.handler, '[1]')).error, 'InvalidTaskInput');
  assert.equal((await invoke(payment.handler, '{nope')).error, 'InvalidTaskInput');
});

test('inventory reserves all lines or none', async () => {
  kv.clear();
  kv.set('WIDGET-1', '10');
  kv.set('GADGET-2', '4');
  const { output } = await invoke(inventory.handler, JSON.stringify(order()));
  assert.deepEqual(JSON.parse(output).inventoryResult, {
    reserved: [
      { sku: 'WIDGET-1', quantity: 3 },
      { sku: 'GADGET-2', quantity: 1 },
    ],
    remainingStock: { 'GADGET-2': 3, 'WIDGET-1': 7 },
  });
  const short = order();
  short.items = [
    { sku: 'WIDGET-1', quantity: 1, price: 19.99 },
    { sku: 'GADGET-2', quantity: 5, price: 5.0 },
  ];
  assert.deepEqual(await invoke(inventory.handler, JSON.stringify(short)), {
    error: 'InventoryUpdateFailed',
    cause: 'insufficient stock for GADGET-2: requested 5, available 3',
  });
  assert.deepEqual([kv.get('WIDGET-1'), kv.get('GADGET-2')], ['7', '3'], 'nothing written by the refused order');
  kv.set('WIDGET-1', '"many"');
  assert.equal((await invoke(inventory.handler, JSON.stringify(order()))).error, 'KvFailed');
});

test('notify composes the confirmation and the failure message', async () => {
  log.lines.length = 0;
  const confirmed = { ...order(), paymentResult: { amount: 64.97 } };
  const { output } = await invoke(notify.handler, JSON.stringify(confirmed));
  assert.deepEqual(JSON.parse(output).notification, {
    channel: 'email',
    to: 'ada@example.com',
    subject: 'Order ORD-1001 confirmed',
    body: 'Hello Ada Lovelace, we received your payment of 64.97 and your order is on its way.',
  });
  assert.deepEqual(log.lines, [['info', 'composed order-confirmed message for order ORD-1001']]);
  const failed = { ...order(), kind: 'payment-failed', reason: { Error: 'PaymentVerificationFailed', Cause: 'card declined' } };
  assert.match(JSON.parse((await invoke(notify.handler, JSON.stringify(failed))).output).notification.body, /: card declined\. Please/);
  const noEmail = { ...order(), customer: { name: 'Bob', email: 'bob\n' } };
  assert.deepEqual(await invoke(notify.handler, JSON.stringify(noEmail)), {
    error: 'NotificationFailed',
    cause: 'customer Bob has no valid email address ("bob\\n")',
  });
});
