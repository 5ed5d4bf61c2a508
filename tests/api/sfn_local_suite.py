"""A test suite written for AWS Step Functions Local, in the style of AWS's
sam-sfn-local samples: it creates its state machine on the endpoint, starts
executions as `<state machine ARN>#<test case>` so that the mock config's
test case answers the service integrations, waits for each, and asserts on
the execution history. Nothing in it knows stepwasm.

Run by tests/it/mocks.rs against `stepwasm serve` started as SFN Local is
(SFN_MOCK_CONFIG=tests/mocks/MockConfigFile.json, WAIT_TIME_SCALE=0):

    STEP_FUNCTIONS_ENDPOINT=http://127.0.0.1:<port> MOCKS_DIR=tests/mocks \
        target/pyenv/bin/python -m unittest -v sfn_local_suite   (from tests/api)
"""

import json
import os
import time
import unittest
import uuid

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("STEP_FUNCTIONS_ENDPOINT", "http://localhost:8083")
MOCKS_DIR = os.environ.get("MOCKS_DIR", os.path.join(os.path.dirname(__file__), "..", "mocks"))
ORDER = {"orderId": "o-42", "sku": "A-1"}


class OrderFulfilmentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = boto3.client(
            "stepfunctions",
            endpoint_url=ENDPOINT,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        with open(os.path.join(MOCKS_DIR, "OrderFulfilment.asl.json")) as f:
            definition = f.read()
        cls.state_machine_arn = cls.client.create_state_machine(
            name="OrderFulfilment",
            definition=definition,
            roleArn="arn:aws:iam::123456789012:role/DummyRole",
        )["stateMachineArn"]

    def execute(self, test_case, execution_input=ORDER):
        execution_arn = self.client.start_execution(
            stateMachineArn=f"{self.state_machine_arn}#{test_case}",
            name=f"{test_case}-{uuid.uuid4().hex[:8]}",
            input=json.dumps(execution_input),
        )["executionArn"]
        deadline = time.time() + 60
        while self.client.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
            self.assertLess(time.time(), deadline, f"{test_case} still running after 60 s")
            time.sleep(0.1)
        return self.client.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    @staticmethod
    def state_exited(events, name):
        return next(e for e in events if e.get("stateExitedEventDetails", {}).get("name") == name)

    def test_happy_path(self):
        events = self.execute("HappyPath")
        self.assertEqual(events[-1]["type"], "ExecutionSucceeded")
        output = json.loads(events[-1]["executionSucceededEventDetails"]["output"])
        self.assertEqual(output["stock"], {"remaining": "41"})
        self.assertEqual(output["shipment"], {"messageId": "sqs-message-1"})
        self.assertEqual(output["notified"], {"messageId": "sns-message-1"})
        reserved = json.loads(self.state_exited(events, "ReserveStock")["stateExitedEventDetails"]["output"])
        self.assertEqual(reserved["stock"]["remaining"], "41")
        # The hour-long Wait state is skipped under WAIT_TIME_SCALE=0.
        entered = next(e for e in events if e["type"] == "WaitStateEntered")["timestamp"]
        exited = next(e for e in events if e["type"] == "WaitStateExited")["timestamp"]
        self.assertLess((exited - entered).total_seconds(), 60)

    def test_retry_path(self):
        events = self.execute("ThrottledThenReserved")
        failures = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
        self.assertEqual([f["error"] for f in failures], ["DynamoDB.ProvisionedThroughputExceededException"] * 2)
        self.assertEqual(events[-1]["type"], "ExecutionSucceeded")
        self.assertEqual(json.loads(events[-1]["executionSucceededEventDetails"]["output"])["stock"], {"remaining": "7"})

    def test_catch_path(self):
        events = self.execute("OutOfStock")
        self.assertEqual(len([e for e in events if e["type"] == "TaskFailed"]), 3)
        notified = [e for e in events if e.get("stateEnteredEventDetails", {}).get("name") == "NotifyFailure"]
        self.assertEqual(len(notified), 1)
        caught = json.loads(notified[0]["stateEnteredEventDetails"]["input"])
        self.assertEqual(caught["error"]["Error"], "DynamoDB.ProvisionedThroughputExceededException")
        self.assertEqual(events[-1]["type"], "ExecutionFailed")
        self.assertEqual(events[-1]["executionFailedEventDetails"]["error"], "OrderFailed")

    def test_unknown_test_case_is_refused(self):
        with self.assertRaises(ClientError) as refused:
            self.client.start_execution(stateMachineArn=f"{self.state_machine_arn}#NoSuchCase", input=json.dumps(ORDER))
        self.assertIn("NoSuchCase", refused.exception.response["Error"]["Message"])


if __name__ == "__main__":
    unittest.main()
