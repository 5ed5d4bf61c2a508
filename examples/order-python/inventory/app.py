"""Inventory update, as modules/inventory does it: reserves an order's items
against the stock levels kept in the kv capability (the units on hand of each
sku under the sku, as a JSON number).

Either every line is reserved or none is: the new levels are computed first
and written only when every line fits. A shortage or an unknown sku is the ASL
error ``InventoryUpdateFailed`` and nothing is written; a kv failure, or a
stored level that is not a whole number, is ``KvFailed``. The order is
returned with the reservation added as ``inventoryResult``.
"""

import json

from stepwasm_guest import INVALID_INPUT, TaskError, kv, log

U64_MAX = 2**64 - 1


class InventoryUpdateFailed(TaskError):
    pass


def fail(cause):
    log.warn(cause)
    return InventoryUpdateFailed(cause)


def _bad_input(what):
    return TaskError(INVALID_INPUT, f"input does not match the handler's input type: {what}")


def read_lines(event):
    if not isinstance(event, dict):
        raise _bad_input(f"the input must be a JSON object, not {type(event).__name__}")
    items = event.get("items")
    if not isinstance(items, list):
        raise _bad_input("missing field `items`" if "items" not in event else "`items` must be an array")
    lines = []
    for line in items:
        sku = line.get("sku") if isinstance(line, dict) else None
        quantity = line.get("quantity") if isinstance(line, dict) else None
        if not isinstance(sku, str) or not isinstance(quantity, int) or isinstance(quantity, bool):
            raise _bad_input("each item needs a string `sku` and a whole `quantity`")
        if not 0 <= quantity <= U64_MAX:
            raise _bad_input(f"quantity {quantity} of {sku} is out of range")
        lines.append((sku, quantity))
    return lines


def stored_units(sku):
    units = kv.get_json(sku)
    if units is not None and (not isinstance(units, int) or isinstance(units, bool) or not 0 <= units <= U64_MAX):
        raise kv.KvError(f"the value under key {json.dumps(sku, ensure_ascii=False)} is not the expected JSON: not a whole number of units")
    return units


def reserve(lines):
    stock = {}  # the touched skus' levels, read from kv once each
    reserved = []  # [sku, quantity], one per sku
    for sku, quantity in lines:
        if quantity == 0:
            raise fail(f"line for {sku} has quantity 0")
        if sku not in stock:
            units = stored_units(sku)
            if units is None:
                raise fail(f"unknown sku {sku}")
            stock[sku] = units
        if stock[sku] < quantity:
            raise fail(f"insufficient stock for {sku}: requested {quantity}, available {stock[sku]}")
        stock[sku] -= quantity
        for r in reserved:
            if r["sku"] == sku:
                r["quantity"] += quantity
                break
        else:
            reserved.append({"sku": sku, "quantity": quantity})
    remaining = dict(sorted(stock.items()))
    for sku, units in remaining.items():
        kv.set_json(sku, units)
    log.info(f"reserved {len(reserved)} sku(s)")
    return {"reserved": reserved, "remainingStock": remaining}


def handler(event, context):
    """Reserves every line of the order, all or nothing; returns the order with
    ``inventoryResult``."""
    reservation = reserve(read_lines(event))
    event["inventoryResult"] = reservation
    return event
