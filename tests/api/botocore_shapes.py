"""A strict validator of JSON values against botocore's Step Functions model.

botocore's own parser is lenient: it drops members the model does not know,
accepts a missing required member and reads a number where a string belongs.
AWS's clients in other languages are not all as forgiving, so this checks what
a response body holds against the output shape the model gives it:

- a structure: every member the model knows, none it does not, the required
  ones present, none of them null;
- a string: its length (in characters) within the shape's min/max, one of its
  enum values when it has them;
- integer/long: a JSON integer within min/max; float/double: a number;
- boolean: true or false; timestamp: epoch seconds as a JSON number (how the
  AWS JSON 1.0 protocol sends dates);
- a list or a map: its size within min/max, every item (and key) recursively.

Each problem names where it is, as a path from the value's root
(`events[3].taskScheduledEventDetails.resource`).

    from botocore_shapes import Model
    model = Model.load()
    problems = model.check_output("GetExecutionHistory", body)
    problems = model.check("HistoryEvent", event, "events[0]")
"""

import gzip
import json
import os

import botocore


def model_path():
    """Where the installed botocore keeps the Step Functions model."""
    base = os.path.join(os.path.dirname(botocore.__file__), "data", "stepfunctions", "2016-11-23", "service-2.json")
    for candidate in (base, base + ".gz"):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"botocore has no Step Functions model at {base}[.gz]")


class Model:
    def __init__(self, service):
        self.shapes = service["shapes"]
        self.operations = service["operations"]

    @classmethod
    def load(cls, path=None):
        path = path or model_path()
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            return cls(json.load(f))

    def output_shape(self, operation):
        """The name of `operation`'s output shape, or None when it has none."""
        if operation not in self.operations:
            raise KeyError(f"botocore's model has no operation {operation!r}")
        output = self.operations[operation].get("output")
        return output["shape"] if output else None

    def check_output(self, operation, body):
        """The problems of `body` (parsed JSON) as `operation`'s response."""
        shape = self.output_shape(operation)
        if shape is None:
            return [] if body in ({}, None) else [f"{operation} has no output in the model, but the body is {short(body)}"]
        return self.check(shape, body, "")

    def check(self, shape_name, value, path):
        """The problems of `value` as shape `shape_name`, located under `path`."""
        problems = []
        self._check(shape_name, value, path, problems)
        return problems

    def _check(self, shape_name, value, path, problems):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        where = path or "(root)"
        if value is None:
            problems.append(f"{where}: null where the model has {shape_name} ({kind}); leave the member out instead")
            return
        checker = getattr(self, "_" + kind, None)
        if checker is None:
            problems.append(f"{where}: the validator does not know the model's type {kind!r} ({shape_name})")
            return
        checker(shape_name, shape, value, path, where, problems)

    def _structure(self, name, shape, value, path, where, problems):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object ({name}), got {short(value)}")
            return
        members = shape.get("members", {})
        for key in value:
            if key not in members:
                problems.append(f"{join(path, key)}: member not in the model's {name} (it has {', '.join(sorted(members)) or 'none'})")
        for key in shape.get("required", []):
            if key not in value:
                problems.append(f"{join(path, key)}: required by {name}, missing")
        for key, member in members.items():
            if key in value:
                self._check(member["shape"], value[key], join(path, key), problems)

    def _list(self, name, shape, value, path, where, problems):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list ({name}), got {short(value)}")
            return
        self._bounds(name, shape, len(value), "items", where, problems)
        for index, item in enumerate(value):
            self._check(shape["member"]["shape"], item, f"{path}[{index}]", problems)

    def _map(self, name, shape, value, path, where, problems):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object ({name}), got {short(value)}")
            return
        self._bounds(name, shape, len(value), "entries", where, problems)
        for key, item in value.items():
            self._check(shape["key"]["shape"], key, f"{path}{{key {key!r}}}", problems)
            self._check(shape["value"]["shape"], item, join(path, key), problems)

    def _string(self, name, shape, value, path, where, problems):
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string ({name}), got {short(value)}")
            return
        self._bounds(name, shape, len(value), "characters", where, problems)
        if "enum" in shape and value not in shape["enum"]:
            problems.append(f"{where}: {value!r} is not one of {name}'s values ({', '.join(shape['enum'])})")

    def _integer(self, name, shape, value, path, where, problems):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer ({name}), got {short(value)}")
            return
        if "min" in shape and value < shape["min"]:
            problems.append(f"{where}: {value} is under {name}'s minimum {shape['min']}")
        if "max" in shape and value > shape["max"]:
            problems.append(f"{where}: {value} is over {name}'s maximum {shape['max']}")

    _long = _integer

    def _float(self, name, shape, value, path, where, problems):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number ({name}), got {short(value)}")

    _double = _float

    def _boolean(self, name, shape, value, path, where, problems):
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true or false ({name}), got {short(value)}")

    def _timestamp(self, name, shape, value, path, where, problems):
        # AWS JSON 1.0 sends dates as epoch seconds (a number, fractions allowed).
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected epoch seconds as a number ({name}), got {short(value)}")
        elif value < 0:
            problems.append(f"{where}: {value} is before the epoch")

    def _blob(self, name, shape, value, path, where, problems):
        if not isinstance(value, str):
            problems.append(f"{where}: expected base64 text ({name}), got {short(value)}")

    def _bounds(self, name, shape, size, unit, where, problems):
        if "min" in shape and size < shape["min"]:
            problems.append(f"{where}: {size} {unit}, under {name}'s minimum {shape['min']}")
        if "max" in shape and size > shape["max"]:
            problems.append(f"{where}: {size} {unit}, over {name}'s maximum {shape['max']}")


def join(path, key):
    return f"{path}.{key}" if path else key


def short(value):
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def self_test():
    """The validator's own checks against a few made-up values: it must find
    each problem (a validator that finds nothing would pass everything)."""
    model = Model.load()
    good = {"id": 1, "previousEventId": 0, "timestamp": 1.5, "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::1:role/r"}}
    assert model.check("HistoryEvent", good, "e") == [], model.check("HistoryEvent", good, "e")
    cases = [
        (dict(good, extra=1), "e.extra: member not in the model"),
        ({k: v for k, v in good.items() if k != "id"}, "e.id: required by HistoryEvent, missing"),
        (dict(good, type="NoSuchEvent"), "e.type: 'NoSuchEvent' is not one of"),
        (dict(good, timestamp="2024-01-01T00:00:00Z"), "e.timestamp: expected epoch seconds"),
        (dict(good, id=True), "e.id: expected an integer"),
        (dict(good, executionStartedEventDetails={"input": 3}), "e.executionStartedEventDetails.input: expected a string"),
        (dict(good, executionStartedEventDetails={"roleArn": ""}), "e.executionStartedEventDetails.roleArn: 0 characters, under"),
        (dict(good, previousEventId=None), "e.previousEventId: null where"),
        (dict(good, taskScheduledEventDetails={"resourceType": "x" * 81, "resource": "r", "region": "us-east-1", "parameters": "{}"}),
         "e.taskScheduledEventDetails.resourceType: 81 characters, over Name's maximum 80"),
    ]
    for value, expected in cases:
        found = model.check("HistoryEvent", value, "e")
        assert any(p.startswith(expected) for p in found), f"expected {expected!r} among {found}"
    listing = {"stateMachines": [{"stateMachineArn": "a", "name": "n", "type": "STANDARD", "creationDate": 1}], "nextToken": ""}
    assert any(p.startswith("nextToken: 0 characters") for p in model.check_output("ListStateMachines", listing))
    assert model.check_output("DeleteActivity", {}) == []
    print("botocore_shapes self-test: ok")
    print("PASS")


if __name__ == "__main__":
    self_test()
