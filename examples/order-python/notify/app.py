"""Customer notification, as modules/notify does it: composes the message the
customer would be sent (channel, recipient, subject, body) and returns the
input with it added as ``notification``. Two kinds: ``order-confirmed`` (the
default; the amount comes from ``amount`` or the payment's ``paymentResult``)
and ``payment-failed`` (the caught error in ``reason``). A missing or malformed
address, or another kind, is the ASL error ``NotificationFailed``.
"""

from stepwasm_guest import INVALID_INPUT, TaskError, log


class NotificationFailed(TaskError):
    pass


def _bad_input(what):
    return TaskError(INVALID_INPUT, f"input does not match the handler's input type: {what}")


def debug_str(s):
    """A string quoted as Rust's ``{:?}`` shows it (what modules/notify says)."""
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
    return '"' + "".join(escapes.get(c, c if c.isprintable() else f"\\u{{{ord(c):x}}}") for c in s) + '"'


def valid_email(email):
    user, at, domain = email.partition("@")
    return bool(at) and bool(user) and "." in domain and not domain.startswith(".") and not domain.endswith(".")


def _str(obj, name, where, default=None):
    if name not in obj and default is not None:
        return default
    value = obj.get(name)
    if not isinstance(value, str):
        raise _bad_input(f"field `{name}` of {where} must be a string")
    return value


def _number(value, where):
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _bad_input(f"{where} must be a number")
    return float(value)


def message_for(event):
    if not isinstance(event, dict):
        raise _bad_input(f"the input must be a JSON object, not {type(event).__name__}")
    kind = _str(event, "kind", "the request", default="order-confirmed")
    order_id = _str(event, "orderId", "the request")
    customer = event.get("customer")
    if not isinstance(customer, dict):
        raise _bad_input("missing or malformed field `customer`")
    name = _str(customer, "name", "the customer")
    email = _str(customer, "email", "the customer")
    amount = _number(event.get("amount"), "`amount`")
    payment = event.get("paymentResult")
    if isinstance(payment, dict):
        charged = _number(payment.get("amount"), "`paymentResult.amount`")
        if charged is None:
            raise _bad_input("missing field `amount` in `paymentResult`")
    elif payment is None:
        charged = None
    else:
        raise _bad_input("`paymentResult` must be an object")
    reason = event.get("reason")
    if reason is not None:
        if not isinstance(reason, dict):
            raise _bad_input("`reason` must be an object")
        why_error = _str(reason, "Error", "the reason")
        why_cause = _str(reason, "Cause", "the reason", default="")

    if not valid_email(email):
        raise NotificationFailed(f"customer {name} has no valid email address ({debug_str(email)})")
    if kind == "order-confirmed":
        subject = f"Order {order_id} confirmed"
        a = amount if amount is not None else charged
        if a is not None:
            body = f"Hello {name}, we received your payment of {a:.2f} and your order is on its way."
        else:
            body = f"Hello {name}, your order is on its way."
    elif kind == "payment-failed":
        why = "no reason given" if reason is None else (why_cause or why_error)
        subject = f"Payment for order {order_id} failed"
        body = (
            f"Hello {name}, we could not take payment for your order: {why}. "
            "Please check your card details and try again."
        )
    else:
        raise NotificationFailed(f"unknown notification kind {debug_str(kind)}")
    log.info(f"composed {kind} message for order {order_id}")
    return {"channel": "email", "to": email, "subject": subject, "body": body}


def handler(event, context):
    """Builds the message for the request's ``kind``; returns the input with
    ``notification``."""
    message = message_for(event)
    event["notification"] = message
    return event
