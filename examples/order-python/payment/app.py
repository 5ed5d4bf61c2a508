"""Payment verification, as modules/payment does it (same rules, messages,
authorisation codes and output): approves or rejects an order's card payment.

Rules, checked in order (the first that fails names the reason): the currency
is one we accept; the card number is 12-19 digits and passes the Luhn
checksum; the card is not on the decline list; the amount charged equals the
order total (sum of price x quantity); the amount is positive and within the
per-order limit. A rejection is the ASL error ``PaymentVerificationFailed``;
an approval is the order with the verdict added as ``paymentResult``.

With a ``gateway`` URL in the input, an order that passes the local rules is
then authorised by that gateway through the http capability: a POST of
``{"orderId", "amount", "currency", "cardLast4"}``; ``{"approved": true,
"authorization": ...}`` approves it, ``{"approved": false, "reason": ...}``
rejects it, anything else (or no answer) is ``PaymentGatewayUnavailable``.
"""

import json

from stepwasm_guest import INVALID_INPUT, TaskError, http, log

#: Largest amount, in cents, a single order may charge.
LIMIT_CENTS = 10_000_00
#: Cards that pass the checksum but that the (simulated) issuer declines.
DECLINED_CARDS = ("4000000000000002", "4000000000009995")
CURRENCIES = ("USD", "EUR", "GBP")
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)


class PaymentVerificationFailed(TaskError):
    pass


class PaymentGatewayUnavailable(TaskError):
    pass


def reject(cause):
    log.warn(f"payment rejected: {cause}")
    return PaymentVerificationFailed(cause)


def unavailable(cause):
    log.warn(f"payment gateway unavailable: {cause}")
    return PaymentGatewayUnavailable(cause)


def round_to_i64(x):
    """Rust's ``x.round() as i64``: half away from zero, saturating, NaN as 0."""
    if x != x:
        return 0
    if x >= 2.0**63:
        return I64_MAX
    if x < -(2.0**63):
        return I64_MIN
    whole = int(x)  # truncates toward zero
    fraction = x - float(whole)
    if fraction >= 0.5:
        whole += 1
    elif fraction <= -0.5:
        whole -= 1
    return max(I64_MIN, min(I64_MAX, whole))


def to_cents(amount):
    return round_to_i64(amount * 100.0)


def luhn_ok(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def fnv1a(data):
    """FNV-1a, 64 bits: the stable hash behind the authorisation code."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _bad_input(what):
    return TaskError(INVALID_INPUT, f"input does not match the handler's input type: {what}")


def _field(obj, name, kinds, where, optional=False):
    value = obj.get(name)
    if value is None and optional:
        return None
    if name not in obj:
        raise _bad_input(f"missing field `{name}` in {where}")
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise _bad_input(f"field `{name}` of {where} has the wrong type")
    return value


def _number(obj, name, where):
    return float(_field(obj, name, (int, float), where))


def read_request(event):
    if not isinstance(event, dict):
        raise _bad_input(f"the input must be a JSON object, not {type(event).__name__}")
    payment = _field(event, "payment", dict, "the order")
    items = []
    for item in _field(event, "items", list, "the order"):
        if not isinstance(item, dict):
            raise _bad_input("an item must be an object")
        quantity = _field(item, "quantity", int, "an item")
        if not 0 <= quantity <= 0xFFFFFFFF:
            raise _bad_input(f"quantity {quantity} of an item is out of range")
        items.append((_field(item, "sku", str, "an item"), quantity, _number(item, "price", "an item")))
    return {
        "order_id": _field(event, "orderId", str, "the order"),
        "card_number": _field(payment, "cardNumber", str, "the payment"),
        "amount": _number(payment, "amount", "the payment"),
        "currency": _field(payment, "currency", str, "the payment"),
        "items": items,
        "gateway": _field(event, "gateway", str, "the order", optional=True),
    }


def gateway_verdict(url, resp):
    """The gateway's answer: its authorisation code when approved."""
    if not resp.ok:
        raise unavailable(f"gateway {url} answered HTTP {resp.status}")
    try:
        reply = resp.json()
    except http.HttpError as e:
        raise unavailable(f"gateway {url} answered HTTP {resp.status} with an unreadable body: {e}") from None
    approved = reply.get("approved") if isinstance(reply, dict) else None
    authorization = reply.get("authorization") if isinstance(reply, dict) else None
    reason = reply.get("reason") if isinstance(reply, dict) else None
    if (
        not isinstance(approved, bool)
        or not isinstance(authorization, (str, type(None)))
        or not isinstance(reason, (str, type(None)))
    ):
        raise unavailable(f"gateway {url} answered HTTP {resp.status} with an unreadable body: not the gateway's reply shape")
    if approved and authorization:
        return authorization
    if approved:
        raise unavailable(f"gateway {url} approved the payment without an authorization code")
    raise reject(f"declined by the payment gateway: {reason or 'no reason given'}")


def authorise(url, body):
    try:
        resp = http.fetch(url, method="POST", json=body, headers=[("accept", "application/json")])
    except http.HttpError as e:
        raise unavailable(f"no response from gateway {url}: {e}") from None
    return gateway_verdict(url, resp)


def check(req, context):
    currency = req["currency"]
    if currency not in CURRENCIES:
        raise reject(f"currency {currency} is not accepted")
    card = "".join(c for c in req["card_number"] if c not in " -")
    if not 12 <= len(card) <= 19 or not all(c in "0123456789" for c in card):
        raise reject("card number must be 12 to 19 digits")
    if not luhn_ok(card):
        raise reject("card number fails the Luhn checksum")
    if card in DECLINED_CARDS:
        raise reject(f"card ending {card[-4:]} was declined by the issuer")
    charged = to_cents(req["amount"])
    total = sum(to_cents(price) * quantity for _, quantity, price in req["items"])
    if charged != total:
        raise reject(f"amount {charged / 100.0:.2f} does not match the order total {total / 100.0:.2f}")
    if charged <= 0:
        raise reject("amount must be positive")
    if charged > LIMIT_CENTS:
        raise reject(f"amount {charged / 100.0:.2f} exceeds the per-order limit of {LIMIT_CENTS / 100.0:.2f}")
    amount = charged / 100.0
    card_last4 = card[-4:]
    if req["gateway"] is not None:
        body = {"orderId": req["order_id"], "amount": amount, "currency": currency, "cardLast4": card_last4}
        authorization_code = authorise(req["gateway"], body)
    else:
        code = fnv1a(f"{req['order_id']}:{charged}:{currency}".encode())
        authorization_code = f"AUTH-{code & 0xFFFFFFFF:08X}"
    log.info(f"order {req['order_id']} approved on attempt {context.attempt}")
    return {
        "approved": True,
        "authorizationCode": authorization_code,
        "amount": amount,
        "currency": currency,
        "cardLast4": card_last4,
    }


def handler(event, context):
    """Verifies the order's payment; returns the order with ``paymentResult``."""
    verdict = check(read_request(event), context)
    event["paymentResult"] = verdict
    return event
