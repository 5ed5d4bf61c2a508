"""A deliberately misbehaving Python handler for the host's limit tests
(tests/it/python_handlers.rs), the Python counterpart of modules/hostile.

The input's ``mode`` picks the misbehaviour: ``loop`` (spins forever),
``alloc`` (grows memory without bound), ``recurse`` (Python recursion, stopped
by the interpreter's recursion limit: a RecursionError), ``recurse-deep`` (the
limit lifted: what stops it is the host), ``huge`` (returns ``bytes`` bytes of
JSON), ``ok`` (behaves), ``fail`` (raises a TaskError named ``error`` with
``cause``), ``raise`` (an unexpected exception: ZeroDivisionError), ``print``
(writes to stdout and stderr, which go nowhere useful but must not fail),
``deep-json`` (returns lists nested ``depth`` deep: the JSON encoder's C
recursion), ``sandbox`` (reports what it can see of files and the environment), and ``kv``
and ``http`` (use capabilities this component was built without: the SDK
raises KvError or HttpError saying so).
"""

import os
import sys

from stepwasm_guest import TaskError, http, kv


def recurse(depth):
    return recurse(depth + 1) + 1


def sandbox():
    report = {}
    try:
        with open("/etc/passwd") as f:
            report["read"] = f"read {len(f.read())} bytes"
    except OSError as e:
        report["read"] = None
        report["read_error"] = type(e).__name__
    try:
        report["listed"] = len(os.listdir("/"))
    except OSError as e:
        report["listed"] = None
        report["list_error"] = type(e).__name__
    report["env"] = sorted(os.environ)
    return report


def handler(event, context):
    mode = event.get("mode", "") if isinstance(event, dict) else ""
    if mode == "loop":
        i = 0
        while True:
            i += 1
    if mode == "alloc":
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))
    if mode == "recurse":
        return recurse(0)
    if mode == "recurse-deep":
        sys.setrecursionlimit(10**9)
        return recurse(0)
    if mode == "deep-json":
        nested = []
        for _ in range(int(event.get("depth", 2000))):
            nested = [nested]
        return nested
    if mode == "huge":
        return "x" * int(event.get("bytes", 1 << 20))
    if mode == "ok":
        return {"fine": True}
    if mode == "fail":
        raise TaskError(event.get("error", "HostileFailure"), event.get("cause", "failed on purpose"))
    if mode == "raise":
        return 1 // 0
    if mode == "print":
        print("to stdout")
        print("to stderr", file=sys.stderr)
        return {"printed": True}
    if mode == "sandbox":
        return sandbox()
    if mode == "kv":
        return kv.get("stock")
    if mode == "http":
        return http.fetch("http://127.0.0.1:9/").status
    raise TaskError("UnknownMode", f"mode {mode!r}")
