// Inventory update, as modules/inventory does it: reserves an order's items
// against the stock levels kept in the kv capability (the units on hand of
// each sku under the sku, as a JSON number).
//
// Either every line is reserved or none is: the new levels are computed
// first and written only when every line fits. A shortage or an unknown sku
// is the ASL error `InventoryUpdateFailed` and nothing is written; a kv
// failure, or a stored level that is not a whole number, is `KvFailed`. The
// order is returned with the reservation added as `inventoryResult`.

import { INVALID_INPUT, TaskError, kv, KvError, log } from 'stepwasm-guest';

class InventoryUpdateFailed extends TaskError {}

function fail(cause) {
  log.warn(cause);
  return new InventoryUpdateFailed(cause);
}

function badInput(what) {
  return new TaskError(INVALID_INPUT, `input does not match the handler's input type: ${what}`);
}

function readLines(event) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw badInput(`the input must be a JSON object, not ${Array.isArray(event) ? 'list' : typeof event}`);
  }
  const { items } = event;
  if (!Array.isArray(items)) throw badInput(!('items' in event) ? 'missing field `items`' : '`items` must be an array');
  return items.map((line) => {
    const sku = line?.sku;
    const quantity = line?.quantity;
    if (typeof sku !== 'string' || !Number.isInteger(quantity)) {
      throw badInput('each item needs a string `sku` and a whole `quantity`');
    }
    if (quantity < 0 || quantity > Number.MAX_SAFE_INTEGER) throw badInput(`quantity ${quantity} of ${sku} is out of range`);
    return { sku, quantity };
  });
}

function storedUnits(sku) {
  const units = kv.getJson(sku);
  if (units !== undefined && (!Number.isInteger(units) || units < 0)) {
    throw new KvError(`the value under key ${JSON.stringify(sku)} is not the expected JSON: not a whole number of units`);
  }
  return units;
}

function reserve(lines) {
  const stock = new Map(); // the touched skus' levels, read from kv once each
  const reserved = []; // {sku, quantity}, one per sku
  for (const { sku, quantity } of lines) {
    if (quantity === 0) throw fail(`line for ${sku} has quantity 0`);
    if (!stock.has(sku)) {
      const units = storedUnits(sku);
      if (units === undefined) throw fail(`unknown sku ${sku}`);
      stock.set(sku, units);
    }
    if (stock.get(sku) < quantity) {
      throw fail(`insufficient stock for ${sku}: requested ${quantity}, available ${stock.get(sku)}`);
    }
    stock.set(sku, stock.get(sku) - quantity);
    const line = reserved.find((r) => r.sku === sku);
    if (line) line.quantity += quantity;
    else reserved.push({ sku, quantity });
  }
  const remainingStock = Object.fromEntries([...stock].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  for (const [sku, units] of Object.entries(remainingStock)) kv.setJson(sku, units);
  log.info(`reserved ${reserved.length} sku(s)`);
  return { reserved, remainingStock };
}

/** Reserves every line of the order, all or nothing; returns the order with `inventoryResult`. */
export function handler(event, context) {
  event.inventoryResult = reserve(readLines(event));
  return event;
}
