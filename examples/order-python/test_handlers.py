"""The three handlers' unit tests, run natively with CPython (no component):
    PYTHONPATH=guest-sdk/python python3 -m unittest discover -s examples/order-python
(scripts/build-python-examples.sh runs them before building). The cases are
modules/{payment,inventory,notify}'s own unit tests."""

import importlib.util
import json
import os
import unittest

from stepwasm_guest import Context, invoke, kv, log

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    spec = importlib.util.spec_from_file_location(f"{name}_app", os.path.join(HERE, name, "app.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


payment, inventory, notify = load("payment"), load("inventory"), load("notify")


def run(module, event):
    """(output value, None) or (None, (error, cause)), as the host sees it."""
    out, failure = invoke(module.handler, json.dumps(event), Context(state_name="Test"))
    return (json.loads(out) if out is not None else None), failure


def order(card, amount):
    return {
        "orderId": "o-1",
        "payment": {"cardNumber": card, "amount": amount, "currency": "USD"},
        "items": [{"sku": "A", "quantity": 3, "price": 19.99}, {"sku": "B", "quantity": 1, "price": 0.03}],
    }


class Payment(unittest.TestCase):
    def test_approves_a_valid_order(self):
        event = order("4111 1111 1111 1111", 60.0)
        out, failure = run(payment, event)
        self.assertIsNone(failure)
        verdict = out.pop("paymentResult")
        self.assertEqual(out, event, "the order is passed on as it came")
        self.assertEqual((verdict["approved"], verdict["amount"], verdict["cardLast4"]), (True, 60.0, "1111"))
        again, _ = run(payment, order("4111111111111111", 60.0))
        self.assertEqual(verdict["authorizationCode"], again["paymentResult"]["authorizationCode"])

    def test_rejects_each_rule(self):
        cases = [
            (order("4111111111111112", 60.0), "Luhn"),
            (order("4000000000000002", 60.0), "declined"),
            (order("4111111111111111", 59.0), "does not match the order total 60.00"),
            (order("41111", 60.0), "12 to 19 digits"),
        ]
        big = order("4111111111111111", 20_000.0)
        big["items"] = [{"sku": "A", "quantity": 1, "price": 20000.0}]
        cases.append((big, "per-order limit"))
        yen = order("4111111111111111", 60.0)
        yen["payment"]["currency"] = "JPY"
        cases.append((yen, "JPY"))
        for event, needle in cases:
            _, (error, cause) = run(payment, event)
            self.assertEqual(error, "PaymentVerificationFailed")
            self.assertIn(needle, cause)

    def test_gateway_fetch_errors_are_unavailable(self):
        event = order("4111111111111111", 60.0)
        event["gateway"] = "https://gateway.example.com/authorize"
        _, (error, cause) = run(payment, event)
        self.assertEqual(error, "PaymentGatewayUnavailable")
        self.assertIn("no response from gateway https://gateway.example.com/authorize", cause)
        self.assertIn("only available inside a component", cause)
        event["payment"]["cardNumber"] = "4000000000000002"
        self.assertEqual(run(payment, event)[1][0], "PaymentVerificationFailed")

    def test_rounding_is_rusts(self):
        # Rust's f64::round: half away from zero (Python's round() is half to even).
        cases = {0.5: 1, -0.5: -1, 1.5: 2, 2.5: 3, -2.5: -3, 0.49999999999999994: 0, 5996.999999999999: 5997,
                 float("nan"): 0, float("inf"): 2**63 - 1, float("-inf"): -(2**63), 1e300: 2**63 - 1}
        for x, want in cases.items():
            self.assertEqual(payment.round_to_i64(x), want, x)
        self.assertEqual(payment.to_cents(19.99), 1999)

    def test_gateway_answers(self):
        url = "https://gw.test/"
        reply = lambda status, body: payment.http.Response(status=status, body=body.encode())
        self.assertEqual(payment.gateway_verdict(url, reply(200, '{"approved": true, "authorization": "GW-42"}')), "GW-42")
        with self.assertRaises(payment.PaymentVerificationFailed) as e:
            payment.gateway_verdict(url, reply(200, '{"approved": false, "reason": "insufficient funds"}'))
        self.assertEqual(str(e.exception), "declined by the payment gateway: insufficient funds")
        for status, body, needle in [
            (503, '{"approved": true, "authorization": "GW-42"}', "HTTP 503"),
            (200, "<html>", "unreadable body"),
            (200, '{"approved": "yes"}', "unreadable body"),
            (201, '{"approved": true}', "without an authorization code"),
        ]:
            with self.assertRaises(payment.PaymentGatewayUnavailable) as e:
                payment.gateway_verdict(url, reply(status, body))
            self.assertEqual(e.exception.error, "PaymentGatewayUnavailable")
            self.assertIn(needle, str(e.exception))

    def test_bad_input_is_invalid_task_input(self):
        for event in [[], {"orderId": "o"}, {**order("4111111111111111", 60.0), "items": [{"sku": "A"}]}]:
            self.assertEqual(run(payment, event)[1][0], "InvalidTaskInput", event)


def seed(stock):
    kv.clear()
    for sku, units in stock.items():
        kv.set(sku, str(units))


class Inventory(unittest.TestCase):
    def test_decrements_and_merges_lines(self):
        seed({"A": 5, "B": 4, "C": 9})
        out, failure = run(inventory, {
            "items": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 3}],
            "orderId": "passed-on"})
        self.assertIsNone(failure)
        self.assertEqual(out["orderId"], "passed-on")
        self.assertEqual(out["inventoryResult"]["reserved"], [{"sku": "A", "quantity": 5}, {"sku": "B", "quantity": 1}])
        self.assertEqual(out["inventoryResult"]["remainingStock"], {"A": 0, "B": 3})
        self.assertEqual((kv.get("A"), kv.get("B"), kv.get("C")), ("0", "3", "9"))
        _, failure = run(inventory, {"items": [{"sku": "A", "quantity": 1}]})
        self.assertEqual(failure[1], "insufficient stock for A: requested 1, available 0")

    def test_shortage_and_unknown_sku_fail_without_writing(self):
        seed({"A": 2, "B": 4})
        _, failure = run(inventory, {"items": [{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2}, {"sku": "A", "quantity": 1}]})
        self.assertEqual(failure, ("InventoryUpdateFailed", "insufficient stock for A: requested 1, available 0"))
        _, failure = run(inventory, {"items": [{"sku": "B", "quantity": 1}, {"sku": "Z", "quantity": 1}]})
        self.assertEqual(failure, ("InventoryUpdateFailed", "unknown sku Z"))
        _, failure = run(inventory, {"items": [{"sku": "B", "quantity": 0}]})
        self.assertEqual(failure[1], "line for B has quantity 0")
        self.assertEqual((kv.get("A"), kv.get("B")), ("2", "4"))

    def test_a_bad_stored_level_is_kv_failed(self):
        seed({})
        kv.set("A", '"lots"')
        _, (error, cause) = run(inventory, {"items": [{"sku": "A", "quantity": 1}]})
        self.assertEqual(error, "KvFailed")
        self.assertIn('"A"', cause)


class Notify(unittest.TestCase):
    customer = {"name": "Ada", "email": "ada@example.com"}

    def test_confirmation_and_failure_messages(self):
        ok, _ = run(notify, {"kind": "order-confirmed", "orderId": "o-7", "customer": self.customer, "amount": 12.5})
        self.assertEqual(ok["orderId"], "o-7")
        self.assertEqual(ok["notification"]["subject"], "Order o-7 confirmed")
        self.assertEqual(ok["notification"]["to"], "ada@example.com")
        self.assertIn("12.50", ok["notification"]["body"])
        failed, _ = run(notify, {"kind": "payment-failed", "orderId": "o-7", "customer": self.customer,
                                 "reason": {"Error": "PaymentVerificationFailed", "Cause": "card declined"}})
        self.assertIn("card declined", failed["notification"]["body"])

    def test_a_whole_order_is_confirmed_with_the_amount_its_payment_charged(self):
        out, _ = run(notify, {"orderId": "o-8", "customer": self.customer, "payment": {"amount": 99.0},
                              "paymentResult": {"approved": True, "amount": 64.97}})
        self.assertEqual(out["notification"]["subject"], "Order o-8 confirmed")
        self.assertIn("64.97", out["notification"]["body"])

    def test_bad_address_or_kind_fails(self):
        for email in ["", "ada", "ada@", "@example.com", "ada@localhost"]:
            _, failure = run(notify, {"kind": "order-confirmed", "orderId": "o", "customer": {"name": "A", "email": email}})
            self.assertEqual(failure[0], "NotificationFailed", email)
        _, failure = run(notify, {"kind": "sms", "orderId": "o", "customer": {"name": "A", "email": "a@b.co"}})
        self.assertIn('"sms"', failure[1])


class Sdk(unittest.TestCase):
    def test_errors_take_their_names_from_the_exception(self):
        from stepwasm_guest import TaskError

        class PaymentDeclined(Exception):
            pass

        class Named(TaskError):
            error = "Custom.Name"

        def raising(exc):
            def handler(event, context):
                raise exc
            return handler

        cases = [
            (TaskError("Explicit", "why"), ("Explicit", "why")),
            (Named("because"), ("Custom.Name", "because")),
            (PaymentDeclined("card expired"), ("PaymentDeclined", "card expired")),
            (KeyError("sku"), ("KeyError", "'sku'")),
            (kv.KvError("refused"), ("KvFailed", "refused")),
        ]
        for exc, want in cases:
            log.lines.clear()
            self.assertEqual(invoke(raising(exc), "{}"), (None, want))
            logged = any("Traceback" in m for _, m in log.lines)
            self.assertEqual(logged, not isinstance(exc, TaskError), exc)

    def test_input_and_output_json(self):
        self.assertEqual(invoke(lambda e, c: {"n": e["n"] + 1, "s": "é"}, '{"n": 1}'), ('{"n":2,"s":"é"}', None))
        self.assertEqual(invoke(lambda e, c: c.attempt, "null", Context(attempt=3)), ("3", None))
        self.assertEqual(invoke(lambda e, c: float("nan"), "{}")[1][0], "InvalidTaskOutput")
        self.assertEqual(invoke(lambda e, c: object(), "{}")[1][0], "InvalidTaskOutput")
        self.assertEqual(invoke(lambda e, c: e, "{not json")[1][0], "InvalidTaskInput")
        deep = []
        for _ in range(100_000):
            deep = [deep]
        self.assertEqual(invoke(lambda e, c: deep, "{}")[1][0], "InvalidTaskOutput")
        self.assertEqual(invoke(lambda e, c: e, "[" * 100_000 + "]" * 100_000)[1][0], "InvalidTaskInput")


if __name__ == "__main__":
    unittest.main()
