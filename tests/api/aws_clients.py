"""Drives `stepwasm serve`'s Step Functions API with the real AWS clients.

Run by tests/it/api_clients.rs (target/pyenv comes from scripts/test-tools.sh):

    target/pyenv/bin/python tests/api/aws_clients.py <endpoint> <repo root>
        the whole scenario on a server started with
        --config examples/order/stepwasm.toml on a fresh store;
    target/pyenv/bin/python tests/api/aws_clients.py <endpoint> <repo root> --secret KEY:SECRET
        the shared-secret checks on a server started with --api-secret KEY:SECRET.

Every check is an assert of what AWS Step Functions documents; the first one
that fails ends the script with exit code 1 and a line starting with FAIL.
"""

import datetime
import http.client
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.parse

import boto3
import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/stepwasm"
NOTIFY_WAIT = "arn:aws:lambda:us-east-1:123456789012:function:NotifyCustomerFunction.waitForTaskToken"
# A task that waits for its token (the notify module accepts these parameters
# and gets the token as one of them), then ends.
CALLBACK_DEFINITION = json.dumps(
    {
        "Comment": "Waits for an approval sent with SendTaskSuccess",
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": NOTIFY_WAIT,
                "Parameters": {
                    "kind": "order-confirmed",
                    "orderId": "A-1",
                    "customer": {"name": "Ada", "email": "ada@example.com"},
                    "amount": 5,
                    "token.$": "$$.Task.Token",
                },
                "HeartbeatSeconds": 600,
                "ResultPath": "$.approval",
                "End": True,
            }
        },
    },
    indent=2,
)
POLL_SECONDS = 60


class Failure(Exception):
    pass


def fail(message):
    raise Failure(message)


def check(condition, message):
    if not condition:
        fail(message)


def step(message):
    print(f"ok: {message}", flush=True)


def show(value):
    return json.dumps(value, default=str, indent=None)[:2000]


def error_of(call, *args, **kwargs):
    """Calls `call`, which must fail with a ClientError; returns (code, HTTP status, response)."""
    try:
        result = call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"].get("Code"), e.response["ResponseMetadata"].get("HTTPStatusCode"), e.response
    fail(f"{call.__name__}({show(kwargs)}) succeeded, an error was expected; it returned {show(result)}")


def expect_error(codes, call, **kwargs):
    """`call(**kwargs)` must fail with a 4xx whose error code is one of `codes`; returns the code."""
    if isinstance(codes, str):
        codes = {codes}
    code, status, response = error_of(call, **kwargs)
    what = f"{call.__name__}({show(kwargs)[:300]})"
    check(code in codes, f"{what}: error code {code!r} (HTTP {status}), expected {' or '.join(sorted(codes))}; response {show(response)}")
    check(status is not None and 400 <= status < 500, f"{what}: HTTP status {status} with {code}, expected 4xx")
    return code


def is_recent(value, what):
    check(isinstance(value, datetime.datetime), f"{what} is {value!r}, not a timestamp")
    check(value.tzinfo is not None, f"{what} is {value!r}, a timestamp without a time zone (AWS sends epoch seconds)")
    now = datetime.datetime.now(datetime.timezone.utc)
    check(abs((now - value).total_seconds()) < 3600, f"{what} {value} is not within the hour of now ({now})")


def client(endpoint, key="dummy", secret="dummy", **config):
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=120, **config),
    )


class Cli:
    """The AWS CLI (target/pyenv/bin/aws), JSON output, against the endpoint."""

    def __init__(self, root, endpoint, key="dummy", secret="dummy"):
        self.aws = os.path.join(root, "target", "pyenv", "bin", "aws")
        self.endpoint = endpoint
        self.env = dict(os.environ)
        self.env.update(
            AWS_ACCESS_KEY_ID=key,
            AWS_SECRET_ACCESS_KEY=secret,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_DEFAULT_OUTPUT="json",
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
            AWS_PAGER="",
        )

    def run(self, *args):
        cmd = [self.aws, "stepfunctions", *args, "--endpoint-url", self.endpoint, "--output", "json"]
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    def ok(self, *args):
        code, out, err = self.run(*args)
        check(code == 0, f"aws stepfunctions {' '.join(args)[:300]}: exit {code}\nstdout: {out}\nstderr: {err}")
        return json.loads(out) if out.strip() else {}

    def error(self, code_wanted, *args):
        code, out, err = self.run(*args)
        check(code != 0, f"aws stepfunctions {' '.join(args)[:300]} succeeded, {code_wanted} was expected: {out}")
        check(f"({code_wanted})" in err, f"aws stepfunctions {' '.join(args)[:300]}: expected ({code_wanted}) in its error, got exit {code}: {err}")


def wait_until_done(sfn, arn):
    deadline = time.time() + POLL_SECONDS
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        check(time.time() < deadline, f"{arn} still RUNNING after {POLL_SECONDS} s: {show(described)}")
        time.sleep(0.1)


def full_history(sfn, arn, **kwargs):
    """Every event, following nextToken; checks each page's size against maxResults."""
    events, token, pages = [], None, 0
    while True:
        args = dict(kwargs, executionArn=arn)
        if token:
            args["nextToken"] = token
        page = sfn.get_execution_history(**args)
        pages += 1
        if "maxResults" in kwargs:
            check(len(page["events"]) <= kwargs["maxResults"], f"a page of {len(page['events'])} events for maxResults={kwargs['maxResults']}")
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events, pages
        check(pages < 1000, "GetExecutionHistory's nextToken never ends")


def all_pages(call, key, **kwargs):
    items, token, pages = [], None, 0
    while True:
        args = dict(kwargs)
        if token:
            args["nextToken"] = token
        page = call(**args)
        pages += 1
        if "maxResults" in kwargs:
            check(len(page[key]) <= kwargs["maxResults"], f"{call.__name__}: a page of {len(page[key])} for maxResults={kwargs['maxResults']}")
        items += page[key]
        token = page.get("nextToken")
        if not token:
            return items, pages
        check(pages < 1000, f"{call.__name__}'s nextToken never ends")


def details_of(event):
    """The event's …EventDetails object (or {})."""
    for key, value in event.items():
        if key.endswith("EventDetails"):
            return value
    return {}


def strip_dates(events):
    return [{k: v for k, v in e.items() if k != "timestamp"} for e in events]


# --------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------


def scenario(endpoint, root):
    sfn = client(endpoint)
    cli = Cli(root, endpoint)
    with open(os.path.join(root, "examples/order/order.asl.json")) as f:
        definition = f.read()
    inputs = {}
    for name in ("paid-order", "declined-payment", "stock-shortage"):
        with open(os.path.join(root, f"examples/order/inputs/{name}.json")) as f:
            inputs[name] = f.read()

    # --- CreateStateMachine / DescribeStateMachine -------------------------
    created = sfn.create_state_machine(name="order", definition=definition, roleArn=ROLE)
    sm = created["stateMachineArn"]
    check(sm.startswith("arn:aws:states:") and sm.endswith(":stateMachine:order"), f"CreateStateMachine gave the ARN {sm!r}")
    is_recent(created["creationDate"], "CreateStateMachine's creationDate")
    described = sfn.describe_state_machine(stateMachineArn=sm)
    check(described["definition"] == definition, "DescribeStateMachine's definition is not the text given to CreateStateMachine")
    check(described["status"] == "ACTIVE", f"DescribeStateMachine status {described.get('status')!r}, expected ACTIVE")
    check(described["type"] == "STANDARD", f"DescribeStateMachine type {described.get('type')!r}, expected STANDARD (the default)")
    check(described["name"] == "order" and described["stateMachineArn"] == sm, f"DescribeStateMachine: {show(described)}")
    check(described["roleArn"] == ROLE, f"DescribeStateMachine roleArn {described.get('roleArn')!r}, expected {ROLE}")
    is_recent(described["creationDate"], "DescribeStateMachine's creationDate")
    step(f"CreateStateMachine order -> {sm}; DescribeStateMachine gives back the definition, ACTIVE, STANDARD")

    again = sfn.create_state_machine(name="order", definition=definition, roleArn=ROLE)
    check(again["stateMachineArn"] == sm, f"CreateStateMachine again with the same definition gave {again['stateMachineArn']!r}, expected {sm!r}")
    changed = definition.replace("\"TimeoutSeconds\": 10", "\"TimeoutSeconds\": 11")
    check(changed != definition, "the example definition no longer has TimeoutSeconds 10")
    expect_error("StateMachineAlreadyExists", sfn.create_state_machine, name="order", definition=changed, roleArn=ROLE)
    expect_error("InvalidDefinition", sfn.create_state_machine, name="broken", roleArn=ROLE,
                 definition=json.dumps({"StartAt": "Nowhere", "States": {"Here": {"Type": "Pass", "End": True}}}))
    expect_error("InvalidDefinition", sfn.create_state_machine, name="broken", roleArn=ROLE, definition="{not json")
    expect_error("InvalidName", sfn.create_state_machine, name="bad name", roleArn=ROLE, definition=definition)
    step("CreateStateMachine is idempotent; StateMachineAlreadyExists, InvalidDefinition (twice), InvalidName")

    # --- StartExecution of the three example inputs ------------------------
    # The kv store persists in the store file: paid-order takes 3 WIDGET-1 and
    # 1 GADGET-2 (10 and 4 seeded), then stock-shortage asks for 5 GADGET-2.
    executions = {}
    for name in ("paid-order", "declined-payment", "stock-shortage"):
        started = sfn.start_execution(stateMachineArn=sm, name=name, input=inputs[name])
        arn = started["executionArn"]
        check(arn.startswith("arn:aws:states:") and arn.endswith(f":execution:order:{name}"), f"StartExecution {name} gave the ARN {arn!r}")
        is_recent(started["startDate"], f"StartExecution {name}'s startDate")
        executions[name] = arn
        # Each is finished before the next starts: the stock levels depend on the order.
        wait_until_done(sfn, arn)
    step(f"StartExecution x3: {', '.join(executions.values())}")

    outcomes = {}
    for name, arn in executions.items():
        d = wait_until_done(sfn, arn)
        outcomes[name] = d
        check(d["executionArn"] == arn and d["stateMachineArn"] == sm and d["name"] == name, f"DescribeExecution {name}: {show(d)}")
        check(json.loads(d["input"]) == json.loads(inputs[name]), f"DescribeExecution {name}: input {d.get('input')!r}")
        is_recent(d["startDate"], f"{name}'s startDate")
        is_recent(d["stopDate"], f"{name}'s stopDate")
        check(d["stopDate"] >= d["startDate"], f"{name}: stopDate {d['stopDate']} before startDate {d['startDate']}")
    paid = outcomes["paid-order"]
    check(paid["status"] == "SUCCEEDED", f"paid-order ended {paid['status']}, expected SUCCEEDED: {show(paid)}")
    out = json.loads(paid["output"])
    check(out["orderId"] == "ORD-1001", f"paid-order output {show(out)}")
    check(out["paymentResult"]["amount"] == 64.97, f"paid-order's paymentResult: {show(out.get('paymentResult'))}")
    check(out["paymentResult"]["approved"] is True, f"paid-order's paymentResult: {show(out.get('paymentResult'))}")
    check(out.get("inventoryResult", {}).get("remainingStock") == {"WIDGET-1": 7, "GADGET-2": 3},
          f"paid-order's inventoryResult (10 WIDGET-1 and 4 GADGET-2 seeded, 3 and 1 ordered): {show(out.get('inventoryResult'))}")
    check(out["notification"]["subject"] == "Order ORD-1001 confirmed", f"paid-order's notification: {show(out.get('notification'))}")
    check(out["notification"]["to"] == "ada@example.com", f"paid-order's notification: {show(out.get('notification'))}")
    declined = outcomes["declined-payment"]
    check(declined["status"] == "SUCCEEDED", f"declined-payment ended {declined['status']}, expected SUCCEEDED (the failure is caught): {show(declined)}")
    out = json.loads(declined["output"])
    check(out["error"]["Error"] == "PaymentVerificationFailed", f"declined-payment's caught error: {show(out.get('error'))}")
    check(out["notification"]["subject"] == "Payment for order ORD-1002 failed", f"declined-payment's notification: {show(out.get('notification'))}")
    check("inventoryResult" not in out, "declined-payment reserved stock")
    shortage = outcomes["stock-shortage"]
    check(shortage["status"] == "FAILED", f"stock-shortage ended {shortage['status']}, expected FAILED: {show(shortage)}")
    check(shortage.get("error") == "InventoryUpdateFailed", f"stock-shortage's error {shortage.get('error')!r}, expected InventoryUpdateFailed")
    check(shortage.get("cause") == "The order could not be fulfilled: not enough stock.", f"stock-shortage's cause {shortage.get('cause')!r}")
    check("output" not in shortage, f"a FAILED execution has no output, got {shortage.get('output')!r}")
    step("DescribeExecution: paid-order SUCCEEDED (confirmed), declined-payment SUCCEEDED (payment-failed notice), stock-shortage FAILED InventoryUpdateFailed")

    # A closed execution's name is taken, whatever the input (AWS: "When the
    # original execution is closed, ExecutionAlreadyExists is returned regardless of input").
    expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=sm, name="paid-order", input=inputs["paid-order"])
    expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=sm, name="paid-order", input=inputs["declined-payment"])
    step("StartExecution with a closed execution's name -> ExecutionAlreadyExists, same input or not")

    # --- GetExecutionHistory -----------------------------------------------
    for name, arn in executions.items():
        events, _ = full_history(sfn, arn)
        n = len(events)
        check(n >= 3, f"{name}: only {n} events")
        check([e["id"] for e in events] == list(range(1, n + 1)), f"{name}: event ids {[e['id'] for e in events]}, expected 1..{n}")
        check(events[0]["type"] == "ExecutionStarted", f"{name}: first event {events[0]['type']}")
        check(events[0].get("previousEventId", 0) == 0, f"{name}: first event's previousEventId {events[0].get('previousEventId')}")
        started = events[0]["executionStartedEventDetails"]
        check(json.loads(started["input"]) == json.loads(inputs[name]), f"{name}: ExecutionStarted input {started.get('input')!r}")
        for e in events:
            is_recent(e["timestamp"], f"{name}: event {e['id']}'s timestamp")
            check(0 <= e.get("previousEventId", 0) < e["id"], f"{name}: event {e['id']} has previousEventId {e.get('previousEventId')}")
        check(all(a["timestamp"] <= b["timestamp"] for a, b in zip(events, events[1:])), f"{name}: timestamps go backwards")
        last = events[-1]
        if outcomes[name]["status"] == "SUCCEEDED":
            check(last["type"] == "ExecutionSucceeded", f"{name}: last event {last['type']}, expected ExecutionSucceeded")
            check(json.loads(last["executionSucceededEventDetails"]["output"]) == json.loads(outcomes[name]["output"]),
                  f"{name}: ExecutionSucceeded output differs from DescribeExecution's")
        else:
            check(last["type"] == "ExecutionFailed", f"{name}: last event {last['type']}, expected ExecutionFailed")
            check(last["executionFailedEventDetails"].get("error") == "InventoryUpdateFailed", f"{name}: {show(last)}")
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        expected_states = {
            "paid-order": ["VerifyPayment", "UpdateInventory", "NotifyCustomer"],
            "declined-payment": ["VerifyPayment", "NotifyCustomerFailedPayment"],
            "stock-shortage": ["VerifyPayment", "UpdateInventory", "HandleInventoryError"],
        }[name]
        check(entered == expected_states, f"{name}: states entered {entered}, expected {expected_states}")
        types = [e["type"] for e in events]
        # order.asl.json calls its Lambda functions by ARN: LambdaFunction* events.
        for t in ("TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited"):
            check(t in types, f"{name}: no {t} event in {types}")

        paged, pages = full_history(sfn, arn, maxResults=3)
        check(strip_dates(paged) == strip_dates(events), f"{name}: history in pages of 3 differs from the whole history")
        check(pages == (n + 2) // 3, f"{name}: {pages} pages of 3 for {n} events")
        backwards, _ = full_history(sfn, arn, reverseOrder=True)
        check(strip_dates(backwards) == strip_dates(list(reversed(events))), f"{name}: reverseOrder=True is not the history reversed: {[e['id'] for e in backwards]}")
        backwards_paged, _ = full_history(sfn, arn, reverseOrder=True, maxResults=2)
        check([e["id"] for e in backwards_paged] == list(range(n, 0, -1)), f"{name}: reverseOrder in pages of 2 gave ids {[e['id'] for e in backwards_paged]}")
        bare, _ = full_history(sfn, arn, includeExecutionData=False)
        check([e["id"] for e in bare] == list(range(1, n + 1)), f"{name}: includeExecutionData=False changed the events")
        for e in bare:
            d = details_of(e)
            check("input" not in d and "output" not in d, f"{name}: includeExecutionData=False still has data in event {e['id']}: {show(e)}")
    step("GetExecutionHistory: ids 1..n, ExecutionStarted..ExecutionSucceeded/Failed, pages of 3, reverseOrder, includeExecutionData=False")
    expect_error("InvalidToken", sfn.get_execution_history, executionArn=executions["paid-order"], nextToken="not-a-token-we-gave")
    step("GetExecutionHistory with a made-up nextToken -> InvalidToken")

    # --- ListExecutions / ListStateMachines -------------------------------
    listed, _ = all_pages(sfn.list_executions, "executions", stateMachineArn=sm)
    names = [e["name"] for e in listed]
    check(sorted(names) == sorted(executions), f"ListExecutions gave {names}, expected {sorted(executions)}")
    for e in listed:
        check(e["executionArn"] == executions[e["name"]] and e["stateMachineArn"] == sm, f"ListExecutions item {show(e)}")
        check(e["status"] == outcomes[e["name"]]["status"], f"ListExecutions: {e['name']} is {e['status']}, DescribeExecution said {outcomes[e['name']]['status']}")
        is_recent(e["startDate"], f"ListExecutions {e['name']}'s startDate")
    starts = [e["startDate"] for e in listed]
    check(starts == sorted(starts, reverse=True), f"ListExecutions is not most recent first: {names}")
    succeeded, _ = all_pages(sfn.list_executions, "executions", stateMachineArn=sm, statusFilter="SUCCEEDED")
    check(sorted(e["name"] for e in succeeded) == ["declined-payment", "paid-order"], f"statusFilter=SUCCEEDED gave {[e['name'] for e in succeeded]}")
    failed, _ = all_pages(sfn.list_executions, "executions", stateMachineArn=sm, statusFilter="FAILED")
    check([e["name"] for e in failed] == ["stock-shortage"], f"statusFilter=FAILED gave {[e['name'] for e in failed]}")
    running, _ = all_pages(sfn.list_executions, "executions", stateMachineArn=sm, statusFilter="RUNNING")
    check(running == [], f"statusFilter=RUNNING gave {[e['name'] for e in running]}")
    one_by_one, pages = all_pages(sfn.list_executions, "executions", stateMachineArn=sm, maxResults=1)
    check([e["name"] for e in one_by_one] == names, f"ListExecutions one at a time gave {[e['name'] for e in one_by_one]}, expected {names}")
    check(pages == 3, f"ListExecutions maxResults=1: {pages} pages for 3 executions")
    step("ListExecutions: all three, newest first, statusFilter SUCCEEDED/FAILED/RUNNING, one per page with nextToken")

    # --- the AWS CLI ----------------------------------------------------------
    machines = cli.ok("list-state-machines")["stateMachines"]
    check(any(m["stateMachineArn"] == sm and m["name"] == "order" and m["type"] == "STANDARD" for m in machines),
          f"aws stepfunctions list-state-machines: {show(machines)}")
    input_file = os.path.join(root, "examples/order/inputs/declined-payment.json")
    started = cli.ok("start-execution", "--state-machine-arn", sm, "--name", "cli-declined", "--input", f"file://{input_file}")
    cli_arn = started["executionArn"]
    check(cli_arn.endswith(":execution:order:cli-declined"), f"aws stepfunctions start-execution: {show(started)}")
    deadline = time.time() + POLL_SECONDS
    while True:
        d = cli.ok("describe-execution", "--execution-arn", cli_arn)
        if d["status"] != "RUNNING":
            break
        check(time.time() < deadline, f"cli-declined still RUNNING: {show(d)}")
        time.sleep(0.2)
    check(d["status"] == "SUCCEEDED", f"aws stepfunctions describe-execution: {show(d)}")
    check(json.loads(d["output"])["notification"]["subject"] == "Payment for order ORD-1002 failed", f"cli-declined output {d.get('output')}")
    history = cli.ok("get-execution-history", "--execution-arn", cli_arn)["events"]
    check(history[0]["type"] == "ExecutionStarted" and history[-1]["type"] == "ExecutionSucceeded", f"aws stepfunctions get-execution-history: {[e['type'] for e in history]}")
    check([e["id"] for e in history] == list(range(1, len(history) + 1)), "aws stepfunctions get-execution-history: ids not 1..n")
    hello = cli.ok("create-state-machine", "--name", "cli-hello", "--role-arn", ROLE,
                   "--definition", json.dumps({"StartAt": "Hi", "States": {"Hi": {"Type": "Pass", "Result": {"hello": "cli"}, "End": True}}}))
    check(hello["stateMachineArn"].endswith(":stateMachine:cli-hello"), f"aws stepfunctions create-state-machine: {show(hello)}")
    cli.error("ExecutionDoesNotExist", "describe-execution", "--execution-arn", sm.replace(":stateMachine:", ":execution:") + ":never-started")
    step("AWS CLI: list-state-machines, start-execution (file:// input), describe-execution, get-execution-history, create-state-machine, an error")

    # --- a callback (.waitForTaskToken) -------------------------------------
    approval = sfn.create_state_machine(name="approval", definition=CALLBACK_DEFINITION, roleArn=ROLE,
                                        tags=[{"key": "kind", "value": "callback"}])["stateMachineArn"]
    check(sfn.list_tags_for_resource(resourceArn=approval)["tags"] == [{"key": "kind", "value": "callback"}],
          f"CreateStateMachine's tags: {show(sfn.list_tags_for_resource(resourceArn=approval))}")

    def start_waiting(name, payload):
        arn = sfn.start_execution(stateMachineArn=approval, name=name, input=payload)["executionArn"]
        deadline = time.time() + POLL_SECONDS
        token = None
        while True:
            events, _ = full_history(sfn, arn)
            types = [e["type"] for e in events]
            for e in events:
                if e["type"] == "TaskScheduled":
                    d = e["taskScheduledEventDetails"]
                    # botocore's model bounds the name at 80 characters: a longer resource is named by its last part.
                    short = NOTIFY_WAIT.rsplit(":", 1)[-1]
                    check(d["resource"] in (NOTIFY_WAIT, short) or d["resource"].startswith("arn:aws:lambda:"), f"TaskScheduled resource {d.get('resource')!r}")
                    token = json.loads(d["parameters"]).get("token")
            # The notify module has run once TaskSubmitted is there; the token was valid before.
            if token and "TaskSubmitted" in types:
                break
            check("ExecutionFailed" not in types, f"{name} failed while its task should wait: {show(events[-3:])}")
            check(time.time() < deadline, f"{name}: no TaskScheduled with a token and TaskSubmitted after {POLL_SECONDS} s: {types}")
            time.sleep(0.1)
        check(isinstance(token, str) and token, f"{name}: the token in TaskScheduled's parameters is {token!r}")
        check(sfn.describe_execution(executionArn=arn)["status"] == "RUNNING", f"{name} is not RUNNING while it waits for its token")
        return arn, token

    approve_input = json.dumps({"n": 1})
    first, token = start_waiting("approve-1", approve_input)
    step(f"callback: approve-1 waits; its token ({token[:16]}...) is in TaskScheduled's parameters")

    # Idempotent start while RUNNING; a different input is ExecutionAlreadyExists.
    again = sfn.start_execution(stateMachineArn=approval, name="approve-1", input=approve_input)
    check(again["executionArn"] == first, f"StartExecution again (same name and input, still running) gave {again['executionArn']!r}, expected {first!r}")
    expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=approval, name="approve-1", input=json.dumps({"n": 2}))
    step("StartExecution of a running execution's name: same input -> the same executionArn; other input -> ExecutionAlreadyExists")

    sfn.send_task_heartbeat(taskToken=token)
    expect_error("InvalidOutput", sfn.send_task_success, taskToken=token, output="{not json")
    expect_error({"InvalidToken", "TaskDoesNotExist"}, sfn.send_task_success, taskToken="AAAAbogus" + token[9:][::-1], output="{}")
    check(sfn.describe_execution(executionArn=first)["status"] == "RUNNING", "approve-1 ended after an invalid output or a bogus token")
    sfn.send_task_success(taskToken=token, output=json.dumps({"approvedBy": "Bo"}))
    d = wait_until_done(sfn, first)
    check(d["status"] == "SUCCEEDED", f"approve-1 ended {d['status']} after SendTaskSuccess: {show(d)}")
    check(json.loads(d["output"]) == {"n": 1, "approval": {"approvedBy": "Bo"}}, f"approve-1's output {d.get('output')!r}, expected the task output at $.approval")
    events, _ = full_history(sfn, first)
    types = [e["type"] for e in events]
    check(types[-1] == "ExecutionSucceeded", f"approve-1's history ends {types[-3:]}")
    succeeded = [e for e in events if e["type"] == "TaskSucceeded"]
    check(len(succeeded) == 1 and json.loads(succeeded[0]["taskSucceededEventDetails"]["output"]) == {"approvedBy": "Bo"},
          f"approve-1's TaskSucceeded: {show(succeeded)}")
    used = expect_error({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}, sfn.send_task_success, taskToken=token, output="{}")
    step(f"callback: heartbeat ok; InvalidOutput; bogus token rejected; SendTaskSuccess -> SUCCEEDED with the output; the used token again -> {used}")

    second, token2 = start_waiting("approve-2", approve_input)
    sfn.send_task_failure(taskToken=token2, error="Rejected", cause="not today")
    d = wait_until_done(sfn, second)
    check(d["status"] == "FAILED" and d.get("error") == "Rejected" and d.get("cause") == "not today",
          f"approve-2 after SendTaskFailure(Rejected): {show(d)}")
    step("callback: SendTaskFailure -> FAILED with that error and cause")

    # --- RedriveExecution: approve-2 goes on from its task, with a new token --
    d = sfn.describe_execution(executionArn=second)
    check(d.get("redriveStatus") == "REDRIVABLE" and d.get("redriveCount") == 0, f"approve-2 before its redrive: {show(d)}")
    is_recent(sfn.redrive_execution(executionArn=second)["redriveDate"], "RedriveExecution's redriveDate")
    deadline = time.time() + POLL_SECONDS
    while True:
        events, _ = full_history(sfn, second)
        types = [e["type"] for e in events]
        if types.count("TaskSubmitted") == 2:
            break
        check(time.time() < deadline, f"approve-2 redriven: no second TaskSubmitted after {POLL_SECONDS} s: {types}")
        time.sleep(0.1)
    check(types.count("ExecutionRedriven") == 1 and types.index("ExecutionRedriven") == types.index("ExecutionFailed") + 1,
          f"approve-2's history after its redrive: {types}")
    tokens = [json.loads(e["taskScheduledEventDetails"]["parameters"])["token"] for e in events if e["type"] == "TaskScheduled"]
    check(len(tokens) == 2 and tokens[0] == token2 and tokens[1] != token2, f"approve-2's task tokens: {tokens}")
    sfn.send_task_success(taskToken=tokens[1], output=json.dumps({"approvedBy": "Cy"}))
    d = wait_until_done(sfn, second)
    check(d["status"] == "SUCCEEDED" and d.get("redriveCount") == 1 and d.get("redriveStatus") == "NOT_REDRIVABLE",
          f"approve-2 after its redrive: {show(d)}")
    check(json.loads(d["output"]) == {"n": 1, "approval": {"approvedBy": "Cy"}}, f"approve-2's output after its redrive: {d.get('output')!r}")
    redriven, _ = all_pages(sfn.list_executions, "executions", stateMachineArn=approval, redriveFilter="REDRIVEN")
    check([e["name"] for e in redriven] == ["approve-2"], f"redriveFilter=REDRIVEN gave {[e['name'] for e in redriven]}")
    expect_error("ExecutionNotRedrivable", sfn.redrive_execution, executionArn=second)
    step("RedriveExecution: approve-2 runs its task again with a new token -> SUCCEEDED, redriveCount 1; "
         "redriveFilter=REDRIVEN lists it; redriving it again -> ExecutionNotRedrivable")

    # --- StopExecution ---------------------------------------------------------
    third, token3 = start_waiting("approve-3", approve_input)
    stopped = sfn.stop_execution(executionArn=third, error="Operator", cause="done for today")
    is_recent(stopped["stopDate"], "StopExecution's stopDate")
    deadline = time.time() + 10
    while True:
        d = sfn.describe_execution(executionArn=third)
        if d["status"] != "RUNNING":
            break
        check(time.time() < deadline, f"approve-3 still RUNNING 10 s after StopExecution: {show(d)}")
        time.sleep(0.1)
    check(d["status"] == "ABORTED", f"approve-3 after StopExecution: {show(d)}")
    check(d.get("error") == "Operator" and d.get("cause") == "done for today", f"approve-3's error/cause after StopExecution: {show(d)}")
    events, _ = full_history(sfn, third)
    check(events[-1]["type"] == "ExecutionAborted", f"approve-3's last event {events[-1]['type']}, expected ExecutionAborted")
    aborted_details = events[-1].get("executionAbortedEventDetails", {})
    check(aborted_details.get("error") == "Operator" and aborted_details.get("cause") == "done for today",
          f"approve-3's ExecutionAborted: {show(events[-1])}")
    expect_error({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}, sfn.send_task_success, taskToken=token3, output="{}")
    aborted, _ = all_pages(sfn.list_executions, "executions", stateMachineArn=approval, statusFilter="ABORTED")
    check([e["name"] for e in aborted] == ["approve-3"], f"statusFilter=ABORTED gave {[e['name'] for e in aborted]}")
    step("StopExecution: ABORTED with error and cause, ExecutionAborted last; its token is closed")

    # --- tags ---------------------------------------------------------------------
    sfn.tag_resource(resourceArn=sm, tags=[{"key": "team", "value": "orders"}, {"key": "env", "value": "test"}])
    tags = sfn.list_tags_for_resource(resourceArn=sm)["tags"]
    check(sorted((t["key"], t["value"]) for t in tags) == [("env", "test"), ("team", "orders")], f"ListTagsForResource after TagResource: {show(tags)}")
    sfn.tag_resource(resourceArn=sm, tags=[{"key": "env", "value": "prod"}])
    tags = sfn.list_tags_for_resource(resourceArn=sm)["tags"]
    check(sorted((t["key"], t["value"]) for t in tags) == [("env", "prod"), ("team", "orders")], f"TagResource of an existing key does not overwrite it: {show(tags)}")
    sfn.untag_resource(resourceArn=sm, tagKeys=["env"])
    tags = sfn.list_tags_for_resource(resourceArn=sm)["tags"]
    check(tags == [{"key": "team", "value": "orders"}], f"ListTagsForResource after UntagResource env: {show(tags)}")
    missing_sm = sm.replace(":stateMachine:order", ":stateMachine:no-such-machine")
    expect_error("ResourceNotFound", sfn.tag_resource, resourceArn=missing_sm, tags=[{"key": "a", "value": "b"}])
    expect_error("ResourceNotFound", sfn.list_tags_for_resource, resourceArn=missing_sm)
    expect_error("InvalidArn", sfn.list_tags_for_resource, resourceArn="not-an-arn")
    step("TagResource / ListTagsForResource / UntagResource; ResourceNotFound, InvalidArn")

    # --- DescribeStateMachineForExecution, ValidateStateMachineDefinition -------
    for_exec = sfn.describe_state_machine_for_execution(executionArn=executions["paid-order"])
    check(for_exec["stateMachineArn"] == sm and for_exec["name"] == "order" and for_exec["definition"] == definition and for_exec["roleArn"] == ROLE,
          f"DescribeStateMachineForExecution: {show(for_exec)[:500]}")
    is_recent(for_exec["updateDate"], "DescribeStateMachineForExecution's updateDate")
    for_exec = sfn.describe_state_machine_for_execution(executionArn=first)
    check(for_exec["stateMachineArn"] == approval and for_exec["definition"] == CALLBACK_DEFINITION, f"DescribeStateMachineForExecution approve-1: {show(for_exec)[:500]}")
    step("DescribeStateMachineForExecution")

    valid = sfn.validate_state_machine_definition(definition=definition)
    check(valid["result"] == "OK" and valid["diagnostics"] == [], f"ValidateStateMachineDefinition of the example: {show(valid)}")
    broken = json.loads(definition)
    broken["States"]["VerifyPayment"]["Next"] = "UpdateInventry"
    invalid = sfn.validate_state_machine_definition(definition=json.dumps(broken))
    check(invalid["result"] == "FAIL", f"ValidateStateMachineDefinition of a dangling Next: {show(invalid)}")
    check(len(invalid["diagnostics"]) >= 1, f"ValidateStateMachineDefinition FAIL without diagnostics: {show(invalid)}")
    for diag in invalid["diagnostics"]:
        check(diag.get("severity") == "ERROR" and diag.get("code") and diag.get("message"), f"a diagnostic without severity ERROR, code and message: {show(diag)}")
    check(any("UpdateInventry" in d["message"] or "UpdateInventry" in d.get("location", "") for d in invalid["diagnostics"]),
          f"no diagnostic names the missing state UpdateInventry: {show(invalid['diagnostics'])}")
    check(any("VerifyPayment" in d.get("location", "") for d in invalid["diagnostics"]),
          f"no diagnostic is located at VerifyPayment: {show(invalid['diagnostics'])}")
    garbled = sfn.validate_state_machine_definition(definition="{not json")
    check(garbled["result"] == "FAIL" and garbled["diagnostics"], f"ValidateStateMachineDefinition of invalid JSON: {show(garbled)}")
    step(f"ValidateStateMachineDefinition: OK; FAIL with {len(invalid['diagnostics'])} diagnostic(s) e.g. {invalid['diagnostics'][0]['code']}: {invalid['diagnostics'][0]['message']}")

    # --- StartSyncExecution (EXPRESS machines only, as on AWS) -------------------
    # boto3 would send StartSyncExecution to "sync-<host>" (the operation's
    # hostPrefix); a local endpoint needs that turned off, as with any local
    # Step Functions endpoint.
    sync = client(endpoint, inject_host_prefix=False)
    express = sfn.create_state_machine(name="order-express", definition=definition, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    check(sfn.describe_state_machine(stateMachineArn=express)["type"] == "EXPRESS", "DescribeStateMachine of an EXPRESS machine")
    result = sync.start_sync_execution(stateMachineArn=express, name="sync-paid", input=inputs["paid-order"])
    check(result["status"] == "SUCCEEDED", f"StartSyncExecution of the paid order: {show(result)}")
    check(result["stateMachineArn"] == express and result["name"] == "sync-paid" and ":order-express:sync-paid" in result["executionArn"],
          f"StartSyncExecution's ARNs and name: {show(result)}")
    out = json.loads(result["output"])
    check(out["notification"]["subject"] == "Order ORD-1001 confirmed" and out["paymentResult"]["amount"] == 64.97, f"StartSyncExecution output: {show(out)}")
    # The kv store is serve's, kept in its store file: the second paid order takes from what the first left.
    check(out.get("inventoryResult", {}).get("remainingStock") == {"WIDGET-1": 4, "GADGET-2": 2},
          f"StartSyncExecution's inventoryResult after the first paid order left 7 and 3: {show(out.get('inventoryResult'))}")
    is_recent(result["startDate"], "StartSyncExecution's startDate")
    is_recent(result["stopDate"], "StartSyncExecution's stopDate")
    result = sync.start_sync_execution(stateMachineArn=express, input=inputs["stock-shortage"])
    check(result["status"] == "FAILED" and result.get("error") == "InventoryUpdateFailed" and "output" not in result,
          f"StartSyncExecution of the stock shortage: {show(result)}")
    expect_error("StateMachineTypeNotSupported", sync.start_sync_execution, stateMachineArn=sm, input=inputs["paid-order"])
    expect_error("InvalidExecutionInput", sync.start_sync_execution, stateMachineArn=express, input="{not json")
    step("StartSyncExecution: SUCCEEDED with the output, FAILED with error; a STANDARD machine -> StateMachineTypeNotSupported")

    # --- ListStateMachines -------------------------------------------------------------
    machines, _ = all_pages(sfn.list_state_machines, "stateMachines")
    by_name = {m["name"]: m for m in machines}
    check(set(by_name) == {"order", "approval", "cli-hello", "order-express"}, f"ListStateMachines gave {sorted(by_name)}")
    check(by_name["order"]["stateMachineArn"] == sm and by_name["order"]["type"] == "STANDARD", f"ListStateMachines order: {show(by_name['order'])}")
    check(by_name["order-express"]["type"] == "EXPRESS", f"ListStateMachines order-express: {show(by_name['order-express'])}")
    for m in machines:
        is_recent(m["creationDate"], f"ListStateMachines {m['name']}'s creationDate")
    one_by_one, pages = all_pages(sfn.list_state_machines, "stateMachines", maxResults=1)
    check(sorted(m["name"] for m in one_by_one) == sorted(by_name) and pages == 4, f"ListStateMachines one at a time: {[m['name'] for m in one_by_one]} in {pages} pages")
    step("ListStateMachines, one per page with nextToken")

    # --- errors ------------------------------------------------------------------------
    missing_exec = sm.replace(":stateMachine:", ":execution:") + ":never-started"
    expect_error("ExecutionDoesNotExist", sfn.describe_execution, executionArn=missing_exec)
    expect_error("ExecutionDoesNotExist", sfn.get_execution_history, executionArn=missing_exec)
    expect_error("ExecutionDoesNotExist", sfn.stop_execution, executionArn=missing_exec)
    expect_error("InvalidArn", sfn.describe_execution, executionArn="not-an-arn")
    expect_error("InvalidArn", sfn.describe_execution, executionArn=sm)  # a state machine's ARN is not an execution's
    expect_error("InvalidArn", sfn.describe_state_machine, stateMachineArn="arn:aws:states:local:000000000000:stateMachine")
    expect_error("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=missing_sm)
    expect_error("StateMachineDoesNotExist", sfn.start_execution, stateMachineArn=missing_sm, input="{}")
    expect_error("InvalidExecutionInput", sfn.start_execution, stateMachineArn=sm, name="not-json", input="{not json")
    expect_error("InvalidName", sfn.start_execution, stateMachineArn=sm, name="bad name", input="{}")
    check(all(e["name"] != "not-json" for e in all_pages(sfn.list_executions, "executions", stateMachineArn=sm)[0]),
          "a StartExecution refused for its input still made an execution")
    step("errors: ExecutionDoesNotExist, InvalidArn, StateMachineDoesNotExist, InvalidExecutionInput, InvalidName")

    # --- DeleteStateMachine (last: its executions were used above) ----------------------
    sfn.delete_state_machine(stateMachineArn=sm)
    deadline = time.time() + 10
    while True:
        try:
            d = sfn.describe_state_machine(stateMachineArn=sm)
            code, status, response = None, 200, d
            check(d.get("status") == "DELETING", f"DescribeStateMachine after DeleteStateMachine: status {d.get('status')!r}, expected DELETING or StateMachineDoesNotExist")
        except ClientError as e:
            code, status, response = e.response["Error"].get("Code"), e.response["ResponseMetadata"].get("HTTPStatusCode"), e.response
        if code == "StateMachineDoesNotExist":
            break
        check(time.time() < deadline, f"DescribeStateMachine 10 s after DeleteStateMachine: {code} {show(response)}")
        time.sleep(0.1)
    check(400 <= status < 500, f"DescribeStateMachine of a deleted machine: HTTP {status}")
    expect_error("StateMachineDoesNotExist", sfn.start_execution, stateMachineArn=sm, input="{}")
    check(all(m["stateMachineArn"] != sm for m in all_pages(sfn.list_state_machines, "stateMachines")[0]), "ListStateMachines still lists a deleted machine")
    step("DeleteStateMachine, then DescribeStateMachine -> StateMachineDoesNotExist")


# --------------------------------------------------------------------------
# Shared-secret mode (serve --api-secret KEY:SECRET)
# --------------------------------------------------------------------------


def raw_post(endpoint, target, body, headers=None):
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    all_headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AWSStepFunctions.{target}"}
    all_headers.update(headers or {})
    conn.request("POST", "/", body=body, headers=all_headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, text


def error_code_of(status, text):
    try:
        return json.loads(text).get("__type", "")
    except ValueError:
        return ""


def signed_request(endpoint, key, secret, body, when=None):
    """A ListStateMachines request signed with SigV4 as botocore signs it (at `when`)."""
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=endpoint + "/", data=body,
        headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.ListStateMachines"},
    )
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "states", "us-east-1")
    if when is None:
        signer.add_auth(request)
    else:
        real = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda *a, **k: when
        try:
            signer.add_auth(request)
        finally:
            botocore.auth.get_current_datetime = real
    return dict(request.headers.items())


def secret_mode(endpoint, root, credentials):
    key, secret = credentials.split(":", 1)
    bad_signature = {"InvalidSignatureException", "UnrecognizedClientException"}
    no_auth = {"MissingAuthenticationToken", "MissingAuthenticationTokenException", "UnrecognizedClientException"}

    good = client(endpoint, key, secret)
    machines = good.list_state_machines()["stateMachines"]
    check(isinstance(machines, list), f"ListStateMachines with the right key: {show(machines)}")
    created = good.create_state_machine(name="signed", roleArn=ROLE,
                                        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    check(created["stateMachineArn"].endswith(":stateMachine:signed"), f"CreateStateMachine signed: {show(created)}")
    step("boto3 signed with the shared secret: ListStateMachines, CreateStateMachine")

    code = expect_error(bad_signature, client(endpoint, key, "not-the-secret").list_state_machines)
    step(f"boto3 with the wrong secret -> {code}")
    code = expect_error(bad_signature, client(endpoint, "AKIDSOMEONEELSE", secret).list_state_machines)
    step(f"boto3 with an unknown access key id -> {code}")
    code = expect_error(no_auth, client(endpoint, signature_version=botocore.UNSIGNED).list_state_machines)
    step(f"boto3 unsigned (no Authorization) -> {code}")
    code = expect_error(bad_signature | no_auth, client(endpoint, key, "not-the-secret").start_execution,
                        stateMachineArn=created["stateMachineArn"], input="{}")
    listed = good.list_executions(stateMachineArn=created["stateMachineArn"])["executions"]
    check(listed == [], f"a StartExecution with the wrong secret ({code}) started an execution: {show(listed)}")
    step("a refused StartExecution starts nothing")

    # Raw requests: a bearer token; SigV4 headers with a tampered body or an old date.
    status, text = raw_post(endpoint, "ListStateMachines", "{}", {"Authorization": f"Bearer {secret}"})
    check(status == 200 and "signed" in [m["name"] for m in json.loads(text)["stateMachines"]], f"Authorization: Bearer <secret>: HTTP {status} {text[:500]}")
    status, text = raw_post(endpoint, "ListStateMachines", "{}", {"Authorization": "Bearer not-the-secret"})
    check(400 <= status < 500 and error_code_of(status, text) in bad_signature | no_auth, f"Authorization: Bearer <wrong>: HTTP {status} {text[:500]}")
    status, text = raw_post(endpoint, "ListStateMachines", "{}")
    check(400 <= status < 500 and error_code_of(status, text) in no_auth, f"no Authorization header: HTTP {status} {text[:500]}")
    headers = signed_request(endpoint, key, secret, "{}")
    status, text = raw_post(endpoint, "ListStateMachines", "{}", headers)
    check(status == 200, f"a request signed by hand with botocore's SigV4Auth: HTTP {status} {text[:500]}")
    status, text = raw_post(endpoint, "ListStateMachines", '{"maxResults": 1}', headers)
    check(400 <= status < 500 and error_code_of(status, text) in bad_signature, f"a signed request whose body was changed after signing: HTTP {status} {text[:500]}")
    hour_ago = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(hours=1)
    old = signed_request(endpoint, key, secret, "{}", when=hour_ago)
    status, text = raw_post(endpoint, "ListStateMachines", "{}", old)
    check(400 <= status < 500 and error_code_of(status, text) in bad_signature, f"a request signed an hour ago (AWS allows 15 minutes): HTTP {status} {text[:500]}")
    step("raw: Bearer <secret> ok, wrong bearer / no Authorization / tampered body / an hour-old signature refused")

    cli = Cli(root, endpoint, key, secret)
    names = [m["name"] for m in cli.ok("list-state-machines")["stateMachines"]]
    check("signed" in names, f"aws stepfunctions list-state-machines with the secret: {names}")
    code, out, err = Cli(root, endpoint, key, "not-the-secret").run("list-state-machines")
    check(code != 0 and any(f"({c})" in err for c in bad_signature), f"aws stepfunctions with the wrong secret: exit {code}: {err}")
    step("AWS CLI signed with the shared secret works; with the wrong one it is refused")


def main():
    if len(sys.argv) not in (3, 5) or (len(sys.argv) == 5 and sys.argv[3] != "--secret"):
        print(__doc__, file=sys.stderr)
        return 2
    endpoint, root = sys.argv[1], sys.argv[2]
    # Nothing from the machine's own AWS configuration may take part.
    for var in list(os.environ):
        if var.startswith("AWS_") and var not in ("AWS_CA_BUNDLE",):
            del os.environ[var]
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}; endpoint {endpoint}", flush=True)
    try:
        if len(sys.argv) == 5:
            secret_mode(endpoint, root, sys.argv[4])
        else:
            scenario(endpoint, root)
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    except ClientError as e:
        print(f"FAIL: an unexpected error from the API: {e.response['Error'].get('Code')} "
              f"(HTTP {e.response['ResponseMetadata'].get('HTTPStatusCode')}): {e}", flush=True)
        return 1
    except botocore.exceptions.BotoCoreError as e:
        print(f"FAIL: the client could not complete a call: {type(e).__name__}: {e}", flush=True)
        return 1
    except Exception as e:  # a missing field in a response, and the like
        traceback.print_exc()
        print(f"FAIL: {type(e).__name__}: {e} (an answer without what AWS would send? see the traceback)", flush=True)
        return 1
    print("PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
