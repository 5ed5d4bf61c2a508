"""Every action of `stepwasm serve`'s API, and every history event it records,
checked against botocore's model by tests/api/botocore_shapes.py.

Run by tests/it/api_shapes.rs, which starts `serve` with a config mapping
the Lambda ARNs below to the example and hostile modules:

    target/pyenv/bin/python tests/api/api_shapes.py <endpoint> <repo root>

The raw response body of each call (plain HTTP, so nothing a client library
drops or fills in hides a problem) is validated against the action's output
shape; the executions together record every kind of event stepwasm records,
and each event of their histories is validated as a HistoryEvent. The actions
the server implements are read from its own UnknownOperationException message:
one without a scenario here fails the run, so a new action needs one.
Exit 0 and a last line PASS, or exit 1 and a FAIL line with every problem.
"""

import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from botocore_shapes import Model  # noqa: E402

ROLE = "arn:aws:iam::000000000000:role/stepwasm"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:"
HOSTILE = FUNCTION + "Hostile"
POLL_SECONDS = 90

# Every event type the scenarios below must produce (and so check).
EXPECTED_TYPES = {
    "ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted",
    "ExecutionRedriven",
    "TaskStateEntered", "TaskStateExited", "PassStateEntered", "PassStateExited", "ChoiceStateEntered",
    "ChoiceStateExited", "WaitStateEntered", "WaitStateExited", "SucceedStateEntered", "SucceedStateExited",
    "FailStateEntered", "ParallelStateEntered", "ParallelStateExited", "MapStateEntered", "MapStateExited",
    "ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateFailed",
    "MapStateStarted", "MapStateSucceeded", "MapStateFailed",
    "MapIterationStarted", "MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted",
    "TaskStateAborted", "WaitStateAborted",
    "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskFailed", "TaskTimedOut",
    "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "ActivityFailed", "ActivityTimedOut",
    "MapRunStarted", "MapRunSucceeded", "MapRunFailed", "MapRunRedriven",
}

# The details member each event type may carry (AWS's naming: the type with a
# lower-case first letter; a state's entry and exit share one).
NO_DETAILS = {"ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateFailed", "MapStateSucceeded",
              "MapStateFailed", "LambdaFunctionStarted", "ParallelStateAborted", "MapStateAborted",
              "TaskStateAborted", "WaitStateAborted", "MapRunSucceeded"}


def details_key(event_type):
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    if event_type in NO_DETAILS:
        return None
    return event_type[0].lower() + event_type[1:] + "EventDetails"


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def step(message):
    print(f"ok: {message}", flush=True)


class Api:
    """Raw AWS JSON 1.0 calls; each 200 body validated against its action's output shape."""

    def __init__(self, endpoint, model):
        self.endpoint = endpoint
        self.model = model
        self.covered = set()
        self.problems = []
        self.events_checked = 0
        self.types_seen = set()

    def raw(self, action, params, timeout=120):
        request = urllib.request.Request(
            self.endpoint + "/",
            data=json.dumps(params).encode(),
            method="POST",
            headers={"X-Amz-Target": f"AWSStepFunctions.{action}", "Content-Type": "application/x-amz-json-1.0"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def call(self, action, **params):
        status, body = self.raw(action, params)
        check(status == 200, f"{action}({json.dumps(params)[:300]}): HTTP {status}: {body[:500]!r}")
        value = json.loads(body) if body.strip() else {}
        found = self.model.check_output(action, value)
        self.problems += [f"{action}: {p}" for p in found]
        self.covered.add(action)
        return value

    def error(self, code, action, **params):
        status, body = self.raw(action, params)
        check(400 <= status < 500, f"{action}: HTTP {status}, expected 4xx {code}: {body[:300]!r}")
        got = json.loads(body).get("__type", "")
        check(got.endswith(code), f"{action}: error {got!r}, expected {code}: {body[:300]!r}")

    def implemented(self):
        status, body = self.raw("NoSuchAction", {})
        message = json.loads(body).get("message", "")
        check(status == 400 and "this API answers " in message, f"an unknown action's answer names no actions: {body!r}")
        return {a.strip() for a in message.split("this API answers ", 1)[1].split(",")}

    def wait_until_done(self, arn):
        deadline = time.time() + POLL_SECONDS
        while True:
            described = self.call("DescribeExecution", executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            check(time.time() < deadline, f"{arn} still RUNNING after {POLL_SECONDS} s")
            time.sleep(0.1)

    def history(self, arn, **extra):
        """Every event, following nextToken in pages of 7; each event's details member checked too."""
        events, token = [], None
        while True:
            page = self.call("GetExecutionHistory", executionArn=arn, maxResults=7, **extra, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        for index, event in enumerate(events):
            self.check_event(arn, index, event)
        return events

    def check_event(self, arn, index, event):
        self.events_checked += 1
        kind = event.get("type", "")
        self.types_seen.add(kind)
        allowed = details_key(kind)
        where = f"{arn.rsplit(':', 1)[-1]} events[{index}] ({kind})"
        for key in event:
            if key.endswith("EventDetails") and key != allowed:
                self.problems.append(f"{where}: {key} on a {kind} event (its details are {allowed or 'none'})")

    def fail_when_under_way(self, arn, waits, submitted):
        """Once `arn`'s history has `waits` WaitStateEntered and `submitted`
        TaskSubmitted events (its children under way at once), fails the task
        whose payload is marked "break" by its token."""
        deadline = time.time() + POLL_SECONDS
        while True:
            events = self.call("GetExecutionHistory", executionArn=arn, maxResults=1000)["events"]
            types = [e["type"] for e in events]
            if types.count("WaitStateEntered") >= waits and types.count("TaskSubmitted") >= submitted:
                break
            check(time.time() < deadline, f"{arn}: children not under way at once after {POLL_SECONDS} s: {types}")
            time.sleep(0.1)
        for event in events:
            payload = json.loads(event.get("taskScheduledEventDetails", {}).get("parameters", "{}")).get("Payload", {})
            if payload.get("mark") == "break":
                self.call("SendTaskFailure", taskToken=payload["token"], error="Broke", cause="failed on purpose")
                return
        raise Failure(f"{arn}: no task marked break: {types}")

    def waiting_token(self, arn, kind):
        """The task token of `arn`'s task once it waits (`kind` is TaskSubmitted, or ActivityScheduled)."""
        deadline = time.time() + POLL_SECONDS
        while True:
            events = self.call("GetExecutionHistory", executionArn=arn, maxResults=1000)["events"]
            if any(e["type"] == kind for e in events):
                for event in events:
                    details = event.get("taskScheduledEventDetails", {})
                    token = json.loads(details.get("parameters", "{}")).get("Payload", {}).get("token")
                    if token:
                        return token
                return None
            check(time.time() < deadline, f"{arn}: no {kind} after {POLL_SECONDS} s: {[e['type'] for e in events]}")
            time.sleep(0.1)


def machine(api, name, definition, **extra):
    created = api.call("CreateStateMachine", name=name, definition=json.dumps(definition), roleArn=ROLE, **extra)
    return created["stateMachineArn"]


def start(api, machine_arn, name, value):
    return api.call("StartExecution", stateMachineArn=machine_arn, name=name, input=json.dumps(value))["executionArn"]


def hostile_task(mode, **extra):
    state = {"Type": "Task", "Resource": HOSTILE, "Parameters": {"mode": mode}}
    state.update(extra)
    return state


def waiting_task(mark=None, **extra):
    payload = {"mode": "ok", "token.$": "$$.Task.Token"}
    if mark:
        payload["mark"] = mark
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "Hostile", "Payload": payload},
    }
    state.update(extra)
    return state


def kitchen_definition():
    return {
        "Comment": "Every state type, a retry, a catch and a task timeout",
        "StartAt": "Start",
        "States": {
            "Start": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.pass", "Assign": {"counter": 1}, "Next": "Choose"},
            "Choose": {"Type": "Choice", "Choices": [{"Variable": "$.pass.n", "NumericEquals": 1, "Next": "Pause"}], "Default": "Done"},
            "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Fan"},
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}},
                    {"StartAt": "B2", "States": {"B2": {
                        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "Hostile", "Payload": {"mode": "ok"}},
                        "OutputPath": "$.Payload", "End": True}}},
                ],
                "ResultPath": "$.fan",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.each",
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": hostile_task("ok", End=True)}},
                "Next": "Flaky",
            },
            "Flaky": hostile_task(
                "fail",
                Parameters={"mode": "fail", "error": "Flaky"},
                Retry=[{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Slow"}],
                Next="Slow",
            ),
            "Slow": hostile_task("loop", TimeoutSeconds=1, Next="Done",
                                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.slow", "Next": "Done"}]),
            "Done": {"Type": "Succeed"},
        },
    }


def failing_definition():
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map", "ItemsPath": "$.modes", "MaxConcurrency": 1,
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {
                    "Type": "Task", "Resource": HOSTILE, "Parameters": {"mode.$": "$"}, "End": True}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.mapError", "Next": "Fan"}],
                "Next": "Fan",
            },
            "Fan": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "Bad", "States": {"Bad": {"Type": "Fail", "Error": "Branch.Bad", "Cause": "on purpose"}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.fanError", "Next": "Last"}],
                "End": True,
            },
            "Last": hostile_task("fail", Parameters={"mode": "fail", "error": "Last.Failure"}, End=True),
        },
    }


def aborting_definition():
    """A Parallel whose branches run at once: a 60-s Wait, a task waiting for
    its token, and a task the script fails (by its token) once both others
    are under way: the Parallel state fails at once, the Wait and the waiting
    task are stopped (WaitStateAborted, TaskStateAborted)."""
    return {
        "StartAt": "Fan",
        "States": {"Fan": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": True}}},
            {"StartAt": "Ask", "States": {"Ask": waiting_task("ask", End=True)}},
            {"StartAt": "Break", "States": {"Break": waiting_task("break", End=True)}},
        ]}},
    }


def map_aborting_definition():
    """A Map whose iterations run at once: items that wait 60 s, and one whose
    task the script fails once the others wait: the Map state fails, the
    waiting iterations are stopped (MapIterationAborted)."""
    return {
        "StartAt": "Each",
        "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Which", "States": {
                "Which": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Break"}],
                          "Default": "Hold"},
                "Hold": {"Type": "Wait", "Seconds": 60, "End": True},
                "Break": waiting_task("break", End=True),
            }}}},
    }


def distributed_definition(fail):
    """A Distributed Map over the input's items, each a child execution of
    `distributed…/Each`: a Pass, or (`fail`) a Fail with no failures
    tolerated, so the map run fails (MapRunFailed) and so the execution."""
    item = ({"Type": "Fail", "Error": "Item.Failed", "Cause": "on purpose"} if fail
            else {"Type": "Pass", "Result": {"done": True}, "End": True})
    return {
        "StartAt": "Each",
        "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Item", "States": {"Item": item}}}},
    }


def jsonata_definition():
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Compute",
        "States": {
            "Compute": {"Type": "Pass", "Assign": {"total": "{% $states.input.a + 1 %}"}, "Output": {"total": "{% $states.input.a + 1 %}"}, "Next": "Call"},
            "Call": {"Type": "Task", "Resource": HOSTILE, "Arguments": {"mode": "ok"}, "Output": "{% $states.result %}", "End": True},
        },
    }


def map_runs(api, executions, distributed):
    """The Distributed Maps' runs: listed, described, updated; their child
    executions listed (in pages) and described; the parents' histories."""
    runs = api.call("ListMapRuns", executionArn=executions["distributed"])["mapRuns"]
    check(len(runs) == 1, f"distributed has {len(runs)} map runs, expected 1: {runs}")
    run_arn = runs[0]["mapRunArn"]
    check(runs[0]["stateMachineArn"] == distributed + "/Each",
          f"the map run's children run {runs[0]['stateMachineArn']}, expected {distributed}/Each")
    described = api.call("DescribeMapRun", mapRunArn=run_arn)
    check(described["status"] == "SUCCEEDED" and described["executionArn"] == executions["distributed"],
          f"DescribeMapRun of a finished run: {described}")
    check(described["itemCounts"]["succeeded"] == 3 and described["executionCounts"]["succeeded"] == 3,
          f"the map run's counts, expected 3 items and 3 executions succeeded: {described}")
    api.call("UpdateMapRun", mapRunArn=run_arn, maxConcurrency=5)
    api.call("UpdateMapRun", mapRunArn=run_arn, toleratedFailureCount=2, toleratedFailurePercentage=12.5)
    updated = api.call("DescribeMapRun", mapRunArn=run_arn)
    check((updated["maxConcurrency"], updated["toleratedFailureCount"], updated["toleratedFailurePercentage"]) == (5, 2, 12.5),
          f"DescribeMapRun after UpdateMapRun: {updated}")
    api.error("ResourceNotFound", "DescribeMapRun", mapRunArn=run_arn[:-4] + "ffff")
    step("a map run listed, described, updated")

    children = api.call("ListExecutions", mapRunArn=run_arn)["executions"]
    check(len(children) == 3 and all(c["status"] == "SUCCEEDED" and c.get("mapRunArn") == run_arn for c in children),
          f"ListExecutions of the map run, expected 3 succeeded children: {children}")
    paged, token = [], None
    while True:
        page = api.call("ListExecutions", mapRunArn=run_arn, maxResults=1, **({"nextToken": token} if token else {}))
        paged += page["executions"]
        token = page.get("nextToken")
        if not token:
            break
    check(sorted(c["executionArn"] for c in paged) == sorted(c["executionArn"] for c in children),
          f"ListExecutions of the map run in pages of 1 listed other children: {paged}")
    child = api.call("DescribeExecution", executionArn=children[0]["executionArn"])
    check(child.get("mapRunArn") == run_arn and child["status"] == "SUCCEEDED", f"DescribeExecution of a child: {child}")
    api.history(children[0]["executionArn"])

    failed_runs = api.call("ListMapRuns", executionArn=executions["distributed-failing"], maxResults=1)["mapRuns"]
    check(len(failed_runs) == 1, f"distributed-failing has {len(failed_runs)} map runs: {failed_runs}")
    failed = api.call("DescribeMapRun", mapRunArn=failed_runs[0]["mapRunArn"])
    check(failed["status"] == "FAILED", f"DescribeMapRun of a failed run: {failed}")
    failed_children = api.call("ListExecutions", mapRunArn=failed_runs[0]["mapRunArn"], statusFilter="FAILED")["executions"]
    check(len(failed_children) == 1, f"ListExecutions of the failed map run, FAILED ones: {failed_children}")
    api.history(failed_children[0]["executionArn"])

    for name, ending in (("distributed", "MapRunSucceeded"), ("distributed-failing", "MapRunFailed")):
        types = [e["type"] for e in api.call("GetExecutionHistory", executionArn=executions[name], maxResults=1000)["events"]]
        check(types[:4] == ["ExecutionStarted", "MapStateEntered", "MapRunStarted", ending],
              f"{name}'s history begins {types[:5]}, expected ExecutionStarted, MapStateEntered, MapRunStarted, {ending}")
    step("a map run's child executions listed (in pages) and described; the parents' histories")


def run(endpoint, root):
    model = Model.load()
    api = Api(endpoint, model)
    implemented = api.implemented()
    step(f"the server implements {len(implemented)} actions")

    # Definitions and activities.
    api.call("ValidateStateMachineDefinition", definition=json.dumps(kitchen_definition()))
    invalid = api.call("ValidateStateMachineDefinition", definition='{"StartAt": "Nowhere", "States": {}}')
    check(invalid["result"] == "FAIL" and invalid["diagnostics"], f"an invalid definition validated: {invalid}")
    approve = api.call("CreateActivity", name="approve", tags=[{"key": "team", "value": "ops"}])["activityArn"]
    idle = api.call("CreateActivity", name="idle")["activityArn"]
    api.call("DescribeActivity", activityArn=approve)
    listed = api.call("ListActivities", maxResults=1)
    api.call("ListActivities", nextToken=listed["nextToken"])
    step("definitions validated; activities created, described, listed")

    with open(os.path.join(root, "examples/order/seed.asl.json")) as f:
        order = machine(api, "order", json.load(f), tags=[{"key": "app", "value": "shop"}])
    kitchen = machine(api, "kitchen", kitchen_definition())
    failing = machine(api, "failing", failing_definition())
    jsonata = machine(api, "jsonata", jsonata_definition())
    aborting = machine(api, "aborting", aborting_definition())
    map_aborting = machine(api, "map-aborting", map_aborting_definition())
    distributed = machine(api, "distributed", distributed_definition(fail=False))
    distributed_failing = machine(api, "distributed-failing", distributed_definition(fail=True))
    waiting = machine(api, "waiting", {"StartAt": "Ask", "States": {"Ask": waiting_task(HeartbeatSeconds=60, End=True)}})
    heartbeat = machine(api, "heartbeat", {"StartAt": "Ask", "States": {"Ask": waiting_task(HeartbeatSeconds=1, TimeoutSeconds=60, End=True)}})
    slow = machine(api, "slow", {"StartAt": "Ask", "States": {"Ask": waiting_task(TimeoutSeconds=1, End=True)}})
    worker = machine(api, "worker", {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": approve, "HeartbeatSeconds": 60, "TimeoutSeconds": 120, "End": True}}})
    unattended = machine(api, "unattended", {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": idle, "TimeoutSeconds": 1, "End": True}}})
    late = machine(api, "late", {"TimeoutSeconds": 1, "StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 30, "End": True}}})
    express = machine(api, "express", {"StartAt": "Call", "States": {"Call": hostile_task("ok", End=True)}}, type="EXPRESS")
    express_fail = machine(api, "express-fail", {"StartAt": "Stop", "States": {"Stop": {"Type": "Fail", "Error": "E", "Cause": "C"}}}, type="EXPRESS")
    api.call("DescribeStateMachine", stateMachineArn=kitchen)
    first = api.call("ListStateMachines", maxResults=2)
    api.call("ListStateMachines", nextToken=first["nextToken"])
    api.call("UpdateStateMachine", stateMachineArn=kitchen, definition=json.dumps(kitchen_definition()).replace("Every state type", "Each state type"))
    step("state machines created, described, listed, updated")

    for resource in (order, approve):
        api.call("TagResource", resourceArn=resource, tags=[{"key": "extra", "value": "1"}])
        api.call("ListTagsForResource", resourceArn=resource)
        api.call("UntagResource", resourceArn=resource, tagKeys=["extra"])
    step("tags on a state machine and an activity")

    executions = {}
    for name in ("paid-order", "declined-payment", "stock-shortage"):
        with open(os.path.join(root, f"examples/order/inputs/{name}.json")) as f:
            executions[name] = start(api, order, name, json.load(f))
    executions["kitchen"] = start(api, kitchen, "kitchen", {"items": [1, 2]})
    executions["failing"] = start(api, failing, "failing", {"modes": ["ok", "fail"]})
    executions["jsonata"] = start(api, jsonata, "jsonata", {"a": 1})
    executions["late"] = start(api, late, "late", {})
    executions["slow"] = start(api, slow, "slow", {})
    executions["heartbeat"] = start(api, heartbeat, "heartbeat", {})
    executions["unattended"] = start(api, unattended, "unattended", {})
    executions["distributed"] = start(api, distributed, "distributed", {"items": [1, 2, 3]})
    executions["distributed-failing"] = start(api, distributed_failing, "distributed-failing", {"items": [1]})

    # Task tokens: success with a heartbeat first, failure, a stop with and without an error.
    for name in ("approved", "refused", "stopped", "stopped-plain"):
        executions[name] = start(api, waiting, name, {})
    token = api.waiting_token(executions["approved"], "TaskSubmitted")
    api.call("SendTaskHeartbeat", taskToken=token)
    api.call("SendTaskSuccess", taskToken=token, output=json.dumps({"approved": True}))
    api.call("SendTaskFailure", taskToken=api.waiting_token(executions["refused"], "TaskSubmitted"), error="Refused", cause="no")
    api.waiting_token(executions["stopped"], "TaskSubmitted")
    api.waiting_token(executions["stopped-plain"], "TaskSubmitted")
    api.call("StopExecution", executionArn=executions["stopped"], error="Operator", cause="stopped by the test")
    api.call("StopExecution", executionArn=executions["stopped-plain"])
    step("task tokens: heartbeat, success, failure; stops")

    # Children running at once stopped by a sibling's failure.
    executions["aborting"] = start(api, aborting, "aborting", {})
    api.fail_when_under_way(executions["aborting"], waits=1, submitted=2)
    executions["map-aborting"] = start(api, map_aborting, "map-aborting", {"items": [{"fail": False}, {"fail": True}, {"fail": False}]})
    api.fail_when_under_way(executions["map-aborting"], waits=2, submitted=1)
    step("a Parallel branch and Map iterations stopped by a sibling's failure")

    # An activity: a worker takes the task, beats, answers; another refuses.
    for name, answer in (("worked", "success"), ("work-refused", "failure")):
        executions[name] = start(api, worker, name, {"job": name})
        deadline = time.time() + POLL_SECONDS
        task = {}
        while not task.get("taskToken"):
            check(time.time() < deadline, f"{name}: GetActivityTask found no task in {POLL_SECONDS} s")
            events = api.call("GetExecutionHistory", executionArn=executions[name])["events"]
            if any(e["type"] in ("ActivityScheduled", "TaskScheduled") for e in events):
                task = api.call("GetActivityTask", activityArn=approve, workerName="worker-1")
            else:
                time.sleep(0.1)
        check(json.loads(task["input"]) == {"job": name}, f"{name}: the activity task's input is {task['input']!r}")
        api.call("SendTaskHeartbeat", taskToken=task["taskToken"])
        if answer == "success":
            api.call("SendTaskSuccess", taskToken=task["taskToken"], output='{"done": true}')
        else:
            api.call("SendTaskFailure", taskToken=task["taskToken"], error="Worker.Refused", cause="cannot")
    step("activity tasks taken by a worker, answered")

    # Sync executions.
    check(api.call("StartSyncExecution", stateMachineArn=express, input="{}")["status"] == "SUCCEEDED", "express run did not succeed")
    check(api.call("StartSyncExecution", stateMachineArn=express_fail, input="{}")["status"] == "FAILED", "express-fail did not fail")
    step("sync executions, succeeded and failed")

    described = {name: api.wait_until_done(arn) for name, arn in executions.items()}
    expected = {"paid-order": "SUCCEEDED", "declined-payment": "FAILED", "stock-shortage": "FAILED", "kitchen": "SUCCEEDED",
                "failing": "FAILED", "jsonata": "SUCCEEDED", "late": "TIMED_OUT", "slow": "FAILED", "heartbeat": "FAILED",
                "unattended": "FAILED", "approved": "SUCCEEDED", "refused": "FAILED", "stopped": "ABORTED",
                "stopped-plain": "ABORTED", "worked": "SUCCEEDED", "work-refused": "FAILED",
                "aborting": "FAILED", "map-aborting": "FAILED", "distributed": "SUCCEEDED",
                "distributed-failing": "FAILED"}
    for name, status in expected.items():
        check(described[name]["status"] == status, f"{name} ended {described[name]['status']}, expected {status}: {described[name]}")
    for name in ("aborting", "map-aborting"):
        check(described[name].get("error") == "Broke", f"{name} failed with another error: {described[name]}")
    check(described["distributed-failing"].get("error") == "States.ExceedToleratedFailureThreshold",
          f"distributed-failing failed with another error: {described['distributed-failing']}")
    step("every execution ended as expected")

    map_runs(api, executions, distributed)

    # A redrive of a failed execution.
    api.call("RedriveExecution", executionArn=executions["failing"])
    api.wait_until_done(executions["failing"])
    step("a failed execution redriven")

    # A parent whose map run failed, redriven: the same map run runs again
    # (its failing child is redriven, and fails again).
    api.call("RedriveExecution", executionArn=executions["distributed-failing"])
    again = api.wait_until_done(executions["distributed-failing"])
    check(again["status"] == "FAILED" and again.get("redriveCount") == 1, f"distributed-failing after its redrive: {again}")
    runs = api.call("ListMapRuns", executionArn=executions["distributed-failing"])["mapRuns"]
    check(len(runs) == 1, f"a redrive started another map run: {runs}")
    redriven_run = api.call("DescribeMapRun", mapRunArn=runs[0]["mapRunArn"])
    check(redriven_run["redriveCount"] == 1 and "redriveDate" in redriven_run and redriven_run["status"] == "FAILED",
          f"DescribeMapRun of the redriven run: {redriven_run}")
    step("a parent whose map run failed redriven: the same map run again")

    api.call("DescribeStateMachineForExecution", executionArn=executions["kitchen"])
    page = api.call("ListExecutions", stateMachineArn=waiting, maxResults=2)
    api.call("ListExecutions", stateMachineArn=waiting, nextToken=page["nextToken"], maxResults=2)
    api.call("ListExecutions", stateMachineArn=waiting, statusFilter="ABORTED")
    api.call("GetExecutionHistory", executionArn=executions["kitchen"], reverseOrder=True, includeExecutionData=False)
    for name, arn in executions.items():
        api.history(arn)
    step(f"{api.events_checked} history events of {len(executions)} executions checked")

    # TestState at each inspection level.
    api.call("TestState", definition=json.dumps({"Type": "Pass", "Result": {"x": 1}, "End": True}), roleArn=ROLE, input="{}", inspectionLevel="DEBUG")
    api.call("TestState", definition=json.dumps(hostile_task("ok", End=True)), roleArn=ROLE, input="{}", inspectionLevel="TRACE")
    api.call("TestState", definition=json.dumps(hostile_task("fail", End=True)), roleArn=ROLE, input="{}")
    api.call("TestState", definition=json.dumps({"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": 1, "Next": "Yes"}],
                                                 "Default": "No"}), roleArn=ROLE, input='{"a": 1}', inspectionLevel="INFO")
    step("TestState at each inspection level")

    # Versions and aliases, where the server has them.
    if "PublishStateMachineVersion" in implemented:
        version = api.call("PublishStateMachineVersion", stateMachineArn=kitchen, description="first")["stateMachineVersionArn"]
        api.call("ListStateMachineVersions", stateMachineArn=kitchen)
        api.call("DescribeStateMachine", stateMachineArn=version)
        if "CreateStateMachineAlias" in implemented:
            alias = api.call("CreateStateMachineAlias", name="live", routingConfiguration=[
                {"stateMachineVersionArn": version, "weight": 100}])["stateMachineAliasArn"]
            api.call("DescribeStateMachineAlias", stateMachineAliasArn=alias)
            api.call("UpdateStateMachineAlias", stateMachineAliasArn=alias, description="live traffic")
            api.call("ListStateMachineAliases", stateMachineArn=kitchen)
            api.call("DeleteStateMachineAlias", stateMachineAliasArn=alias)
        api.call("DeleteStateMachineVersion", stateMachineVersionArn=version)
        step("versions and aliases")

    api.call("DeleteStateMachine", stateMachineArn=express_fail)
    api.call("DeleteActivity", activityArn=idle)
    api.error("ActivityDoesNotExist", "DescribeActivity", activityArn=idle)
    step("a state machine and an activity deleted")

    missing_types = EXPECTED_TYPES - api.types_seen
    if missing_types:
        api.problems.append(f"no history recorded these event types: {', '.join(sorted(missing_types))}")
    uncovered = implemented - api.covered
    if uncovered:
        api.problems.append(f"implemented actions no scenario here called successfully: {', '.join(sorted(uncovered))}")
    return api


def main():
    endpoint, root = sys.argv[1], sys.argv[2]
    try:
        api = run(endpoint, root)
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    except Exception:
        print("FAIL: the script broke:\n" + traceback.format_exc(), flush=True)
        sys.exit(1)
    if api.problems:
        # Each distinct problem once, with how often it came.
        counts = {}
        for problem in api.problems:
            counts[problem] = counts.get(problem, 0) + 1
        print(f"FAIL: {len(counts)} distinct problems against botocore's model:", flush=True)
        for problem, n in counts.items():
            print(f"  {problem}" + (f"  (x{n})" if n > 1 else ""), flush=True)
        sys.exit(1)
    print(f"checked {len(api.covered)} actions and {api.events_checked} events ({len(api.types_seen)} types)")
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
