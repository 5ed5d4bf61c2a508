"""State machine versions and aliases, regions and accounts in ARNs, and the
logging/tracing configuration, through boto3 against `stepwasm serve`.

Run by tests/it/api_versions.rs (target/pyenv comes from scripts/test-tools.sh):

    target/pyenv/bin/python tests/api/versions_aliases.py <endpoint>
        on a fresh store served with --account 123456789012.

Every check is an assert of what AWS Step Functions documents; the first one
that fails ends the script with exit code 1 and a line starting with FAIL.
"""

import json
import os
import sys
import time
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from botocore_shapes import Model  # noqa: E402 - tests/api's strict validator of botocore's output shapes

MODEL = Model.load()
# Every successful response's body, checked against botocore's output shape
# of its operation (botocore's own parser would drop or coerce what is wrong).
SHAPE_PROBLEMS = []
CHECKED = set()


def check_shape(http_response, model, **_):
    if http_response.status_code != 200:
        return
    body = json.loads(http_response.content or b"{}")
    CHECKED.add(model.name)
    SHAPE_PROBLEMS.extend(f"{model.name}: {problem}" for problem in MODEL.check_output(model.name, body))

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/stepwasm"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/other"
LOG_GROUP = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/vendedlogs/states/versioned:*"


def definition(v):
    """A machine whose output says which definition ran."""
    return json.dumps({"StartAt": "Say", "States": {"Say": {"Type": "Pass", "Result": {"v": v}, "End": True}}})


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def step(message):
    print(f"ok: {message}", flush=True)


def show(value):
    return json.dumps(value, default=str)[:1500]


def expect_error(code, call, **kwargs):
    try:
        result = call(**kwargs)
    except ClientError as e:
        got = e.response["Error"].get("Code")
        status = e.response["ResponseMetadata"].get("HTTPStatusCode")
        check(got == code, f"{call.__name__}({show(kwargs)}): {got} (HTTP {status}), expected {code}: {show(e.response)}")
        check(400 <= status < 500, f"{call.__name__}: HTTP {status} with {got}")
        return e.response["Error"].get("Message", "")
    raise Failure(f"{call.__name__}({show(kwargs)}) succeeded with {show(result)}; {code} was expected")


def client(endpoint, region, **config):
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="dummy",
        aws_secret_access_key="dummy",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=60, **config),
    )
    sfn.meta.events.register("after-call.stepfunctions", check_shape)
    return sfn


def finished(sfn, arn):
    """DescribeExecution once the execution ended (Pass machines end at once)."""
    deadline = time.time() + 60
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        check(time.time() < deadline, f"{arn} still RUNNING after 60 s")
        time.sleep(0.05)


def all_executions(sfn, **kwargs):
    listed, token = [], None
    while True:
        page = sfn.list_executions(maxResults=7, **({"nextToken": token} if token else {}), **kwargs)
        listed += page["executions"]
        token = page.get("nextToken")
        if not token:
            return listed


def regions_and_accounts(endpoint):
    eu, us = client(endpoint, "eu-west-1"), client(endpoint, "us-east-1")
    created = eu.create_state_machine(name="regional", definition=definition(1), roleArn=ROLE)
    arn = created["stateMachineArn"]
    check(arn == f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:regional", f"eu-west-1 client: {arn}")
    # The ARN a test builds from its own region and account is the one that exists.
    built = f"arn:aws:states:{eu.meta.region_name}:{ACCOUNT}:stateMachine:regional"
    check(eu.describe_state_machine(stateMachineArn=built)["name"] == "regional", "the ARN built from the client's region")
    started = eu.start_execution(stateMachineArn=built, name="e1")
    check(started["executionArn"] == f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:regional:e1", f"execution ARN {started}")
    check(json.loads(finished(eu, started["executionArn"])["output"]) == {"v": 1}, "ran in eu-west-1")
    other = us.create_state_machine(name="regional", definition=definition(2), roleArn=ROLE)["stateMachineArn"]
    check(other == f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:regional", f"us-east-1 client: {other}")
    check(eu.describe_state_machine(stateMachineArn=arn)["definition"] == definition(1), "each region its own machine")
    expect_error("StateMachineDoesNotExist", us.describe_state_machine, stateMachineArn=f"arn:aws:states:ap-south-1:{ACCOUNT}:stateMachine:regional")
    activity = eu.create_activity(name="regional-worker")["activityArn"]
    check(activity == f"arn:aws:states:eu-west-1:{ACCOUNT}:activity:regional-worker", f"activity ARN {activity}")
    step("ARNs carry the client's region (SigV4 scope) and the --account")


def versions(sfn):
    created = sfn.create_state_machine(
        name="versioned", definition=definition(1), roleArn=ROLE, publish=True, versionDescription="first"
    )
    arn = created["stateMachineArn"]
    v1 = created.get("stateMachineVersionArn")
    check(v1 == f"{arn}:1", f"CreateStateMachine(publish=True): {show(created)}")
    machine = sfn.describe_state_machine(stateMachineArn=arn)
    d1 = sfn.describe_state_machine(stateMachineArn=v1)
    check(d1["stateMachineArn"] == v1 and d1["description"] == "first" and d1["definition"] == definition(1), f"version 1: {show(d1)}")
    check(d1["revisionId"] == machine["revisionId"], "a version has the revision it froze")
    again = sfn.publish_state_machine_version(stateMachineArn=arn)
    check(again["stateMachineVersionArn"] == v1 and again["creationDate"] == d1["creationDate"], f"publishing an unchanged revision: {show(again)}")
    step("CreateStateMachine publish=True gives version 1; publishing it again is idempotent")

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=definition(2), publish=True, versionDescription="second")
    v2 = updated.get("stateMachineVersionArn")
    check(v2 == f"{arn}:2", f"UpdateStateMachine(publish=True): {show(updated)}")
    check(updated["revisionId"] == sfn.describe_state_machine(stateMachineArn=arn)["revisionId"], "UpdateStateMachine's revisionId is the current one")
    check(updated["revisionId"] != d1["revisionId"], "a new definition is a new revision")
    sfn.update_state_machine(stateMachineArn=arn, roleArn=OTHER_ROLE)
    expect_error("ConflictException", sfn.publish_state_machine_version, stateMachineArn=arn, revisionId=updated["revisionId"])
    sfn.update_state_machine(stateMachineArn=arn, roleArn=ROLE)
    check(sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == updated["revisionId"], "the same configuration is the same revision")
    check(sfn.describe_state_machine(stateMachineArn=v1)["definition"] == definition(1), "version 1 keeps its definition")
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    check([v["stateMachineVersionArn"] for v in listed] == [v2, v1], f"ListStateMachineVersions newest first: {show(listed)}")
    first = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1)
    second = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1, nextToken=first["nextToken"])
    check([v["stateMachineVersionArn"] for v in first["stateMachineVersions"] + second["stateMachineVersions"]] == [v2, v1], "paged")
    expect_error("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=f"{arn}:9")
    step("UpdateStateMachine publish=True gives version 2; revisions, listing, a stale revisionId refused")

    e1 = sfn.start_execution(stateMachineArn=v1, name="through-v1")["executionArn"]
    check(e1 == arn.replace(":stateMachine:", ":execution:") + ":through-v1", f"execution of a version: {e1}")
    d = finished(sfn, e1)
    check(json.loads(d["output"]) == {"v": 1}, f"started through version 1, ran its definition: {show(d)}")
    check(d["stateMachineArn"] == arn and d.get("stateMachineVersionArn") == v1 and "stateMachineAliasArn" not in d, f"DescribeExecution: {show(d)}")
    latest = finished(sfn, sfn.start_execution(stateMachineArn=arn, name="latest")["executionArn"])
    check(json.loads(latest["output"]) == {"v": 2} and "stateMachineVersionArn" not in latest, f"the plain ARN runs the latest: {show(latest)}")
    for_execution = sfn.describe_state_machine_for_execution(executionArn=e1)
    check(for_execution["definition"] == definition(1), "DescribeStateMachineForExecution: the version's definition")
    step("StartExecution through a version runs its definition; DescribeExecution names the version")
    return arn, v1, v2


def aliases(sfn, sync, arn, v1, v2):
    created = sfn.create_state_machine_alias(name="live", description="all on 1", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    alias = created["stateMachineAliasArn"]
    check(alias == f"{arn}:live", f"CreateStateMachineAlias: {show(created)}")
    same = sfn.create_state_machine_alias(name="live", description="all on 1", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    check(same["creationDate"] == created["creationDate"], "the same alias again is idempotent")
    expect_error("ConflictException", sfn.create_state_machine_alias, name="live", routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}])
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    check(described["name"] == "live" and described["description"] == "all on 1", f"DescribeStateMachineAlias: {show(described)}")
    check(described["routingConfiguration"] == [{"stateMachineVersionArn": v1, "weight": 100}], "routing shown back")
    for routing in (
        [{"stateMachineVersionArn": v1, "weight": 60}],
        [{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": v1, "weight": 50}],
        [{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": arn.replace("versioned", "regional") + ":1", "weight": 50}],
    ):
        expect_error("ValidationException", sfn.create_state_machine_alias, name="bad", routingConfiguration=routing)
    expect_error("ResourceNotFound", sfn.create_state_machine_alias, name="bad", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:7", "weight": 100}])
    step("CreateStateMachineAlias: idempotent, conflicts, routing checked")

    for i in range(10):
        sfn.start_execution(stateMachineArn=alias, name=f"alias-all-{i}")
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias,
        description="half and half",
        routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": v2, "weight": 50}],
    )
    check(sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["description"] == "half and half", "UpdateStateMachineAlias")
    for i in range(40):
        sfn.start_execution(stateMachineArn=alias, name=f"alias-half-{i}")
    seen = {}
    for i in range(10):
        d = finished(sfn, f"{arn.replace(':stateMachine:', ':execution:')}:alias-all-{i}")
        check(json.loads(d["output"]) == {"v": 1} and d.get("stateMachineVersionArn") == v1, f"100/0 alias: {show(d)}")
        check(d.get("stateMachineAliasArn") == alias, f"DescribeExecution names the alias: {show(d)}")
    for i in range(40):
        d = finished(sfn, f"{arn.replace(':stateMachine:', ':execution:')}:alias-half-{i}")
        ran = json.loads(d["output"])["v"]
        check(d.get("stateMachineVersionArn") == (v1 if ran == 1 else v2), f"the output is the named version's: {show(d)}")
        seen[ran] = seen.get(ran, 0) + 1
    check(set(seen) == {1, 2}, f"a 50/50 alias over 40 starts ran both versions: {seen}")
    step(f"an alias routes by weight: 100/0 always version 1, 50/50 ran {seen}")

    through_alias = all_executions(sfn, stateMachineArn=alias)
    check(len(through_alias) == 50 and all(e.get("stateMachineAliasArn") == alias for e in through_alias), f"ListExecutions(alias): {len(through_alias)}")
    through_v2 = all_executions(sfn, stateMachineArn=v2)
    check(len(through_v2) == seen[2] and all(e.get("stateMachineVersionArn") == v2 for e in through_v2), f"ListExecutions(version 2): {len(through_v2)}")
    everything = all_executions(sfn, stateMachineArn=arn)
    check(len(everything) == 52, f"ListExecutions(state machine): {len(everything)}")
    starts = [e["startDate"] for e in everything]
    check(starts == sorted(starts, reverse=True), "newest first")
    step("ListExecutions by alias and by version ARN")

    message = expect_error("ConflictException", sfn.delete_state_machine_version, stateMachineVersionArn=v1)
    check("live" in message, f"the refusal names the alias: {message}")
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}])
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    check([v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]] == [v2], "version 1 gone")
    expect_error("StateMachineDoesNotExist", sfn.start_execution, stateMachineArn=v1)
    expect_error("ResourceNotFound", sfn.update_state_machine_alias, stateMachineAliasArn=f"{arn}:nope", description="x")
    v3 = sfn.update_state_machine(stateMachineArn=arn, definition=definition(3), publish=True)["stateMachineVersionArn"]
    check(v3 == f"{arn}:3", f"version numbers are not reused: {v3}")
    by_version = sfn.list_state_machine_aliases(stateMachineArn=v2)["stateMachineAliases"]
    check([a["stateMachineAliasArn"] for a in by_version] == [alias], f"ListStateMachineAliases(version 2): {show(by_version)}")
    check(sfn.list_state_machine_aliases(stateMachineArn=v3)["stateMachineAliases"] == [], "no alias routes to version 3")
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    expect_error("ResourceNotFound", sfn.describe_state_machine_alias, stateMachineAliasArn=alias)
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    step("DeleteStateMachineVersion refused while routed; numbers never reused; aliases listed and deleted")

    express = sfn.create_state_machine(name="quick", definition=definition(1), roleArn=ROLE, type="EXPRESS", publish=True)
    sfn.update_state_machine(stateMachineArn=express["stateMachineArn"], definition=definition(2))
    result = sync.start_sync_execution(stateMachineArn=express["stateMachineVersionArn"])
    check(json.loads(result["output"]) == {"v": 1}, f"StartSyncExecution through version 1: {show(result)}")
    sfn.delete_state_machine(stateMachineArn=arn)
    check(sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == [], "a deleted machine's versions go with it")
    step("StartSyncExecution through a version; DeleteStateMachine takes its versions")


def logging_and_tracing(sfn):
    destination = [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}]
    expect_error("InvalidLoggingConfiguration", sfn.create_state_machine, name="logged", definition=definition(1), roleArn=ROLE, loggingConfiguration={"level": "ALL"})
    expect_error(
        "InvalidLoggingConfiguration",
        sfn.create_state_machine,
        name="logged",
        definition=definition(1),
        roleArn=ROLE,
        loggingConfiguration={"level": "ERROR", "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:s3:::bucket"}}]},
    )
    arn = sfn.create_state_machine(
        name="logged",
        definition=definition(1),
        roleArn=ROLE,
        loggingConfiguration={"level": "ERROR", "includeExecutionData": True, "destinations": destination},
        tracingConfiguration={"enabled": True},
    )["stateMachineArn"]
    d = sfn.describe_state_machine(stateMachineArn=arn)
    check(d["loggingConfiguration"] == {"level": "ERROR", "includeExecutionData": True, "destinations": destination}, f"logging kept: {show(d)}")
    check(d["tracingConfiguration"] == {"enabled": True}, f"tracing kept: {show(d)}")
    expect_error(
        "StateMachineAlreadyExists", sfn.create_state_machine, name="logged", definition=definition(1), roleArn=ROLE, tracingConfiguration={"enabled": False}
    )
    sfn.update_state_machine(stateMachineArn=arn, loggingConfiguration={"level": "OFF"})
    d = sfn.describe_state_machine(stateMachineArn=arn)
    check(d["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}, f"logging updated: {show(d)}")
    check(d["tracingConfiguration"] == {"enabled": True}, "tracing untouched by a logging update")
    sfn.update_state_machine(stateMachineArn=arn, tracingConfiguration={"enabled": False})
    check(sfn.describe_state_machine(stateMachineArn=arn)["tracingConfiguration"] == {"enabled": False}, "tracing updated")
    expect_error("InvalidLoggingConfiguration", sfn.update_state_machine, stateMachineArn=arn, loggingConfiguration={"level": "FATAL"})
    plain = sfn.describe_state_machine(stateMachineArn=sfn.create_state_machine(name="plain", definition=definition(1), roleArn=ROLE)["stateMachineArn"])
    check(plain["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False} and plain["tracingConfiguration"] == {"enabled": False}, "defaults")
    step("loggingConfiguration validated, kept and shown; tracingConfiguration round-trips")


def main():
    endpoint = sys.argv[1]
    try:
        regions_and_accounts(endpoint)
        sfn = client(endpoint, "eu-west-1")
        arn, v1, v2 = versions(sfn)
        # boto3 sends StartSyncExecution to "sync-<host>" unless told not to.
        aliases(sfn, client(endpoint, "eu-west-1", inject_host_prefix=False), arn, v1, v2)
        logging_and_tracing(sfn)
        check(not SHAPE_PROBLEMS, "responses not in botocore's output shapes:\n" + "\n".join(SHAPE_PROBLEMS[:30]))
        step(f"every response of {len(CHECKED)} operations matches botocore's output shape: {', '.join(sorted(CHECKED))}")
    except Exception as e:  # noqa: BLE001 - any failure is reported the same way
        print(f"FAIL: {e}", flush=True)
        traceback.print_exc()
        return 1
    print("PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
