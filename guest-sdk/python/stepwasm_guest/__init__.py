"""The stepwasm guest SDK for Python: write a Step Functions Task as a
Lambda-style function and build it into a WebAssembly component with
componentize-py (see scripts/build-python-guest.sh).

A handler project is a directory with ``app.py`` defining::

    from stepwasm_guest import TaskError, log, kv, http

    def handler(event, context):
        # event: the task's input, parsed from JSON (dict, list, str, ...)
        # context: execution_id, state_name, attempt, task_token
        if event["amount"] > 1000:
            raise TaskError("PaymentVerificationFailed", "amount over limit")
        log.info(f"approved on attempt {context.attempt}")
        return {"approved": True}          # serialised back to JSON

Errors: any exception the handler raises fails the task. Its ASL error (what
a state's Retry and Catch match) is the exception's ``error`` attribute when it
has a non-empty string one (``TaskError`` does), else its class name
(``class PaymentDeclined(Exception)`` fails with ``PaymentDeclined``; an
unexpected ``KeyError`` with ``KeyError``, as on AWS Lambda); its cause is
``str(exc)``. An exception that is not a ``TaskError`` also logs its
traceback at level error. A ``MemoryError`` is not caught: the memory cap was
reached, and the host fails the task with ``States.TaskFailed`` saying so, as
for a handler in any language.

Imports: the component holds only the modules imported while it was built
(componentize-py runs app.py's imports and snapshots the interpreter), so
import at the top of app.py every module the handler uses; one imported only
inside a function is missing at run time (``ModuleNotFoundError``).

Capabilities (each only when the resource's grant in stepwasm.toml allows it;
a component that imports an ungranted one is refused when it is loaded, and a
Python component imports all three, so grant what the handler uses):
``log`` (debug/info/warn/error), ``kv`` (get/set/delete, get_json/set_json;
failures raise ``KvError``, the ASL error ``KvFailed``) and ``http``
(``http.fetch(url, method=..., headers=..., body=..., json=...)`` returning a
``Response``; failures raise ``HttpError``, the ASL error ``HttpFailed``).

Output: ``print()`` goes nowhere (stdout is discarded; the last 4 KiB of
stderr are quoted in the cause only when the component traps): use ``log``.

Outside a component (plain CPython, for unit tests) the same module works:
``log`` lines are kept in ``log.lines``, ``kv`` is a dict (``kv.clear()``),
and ``http.fetch`` raises ``HttpError``; ``invoke(handler, input_json)``
runs a handler as the host would and returns ``(output_json, None)`` or
``(None, (error, cause))``.
"""

from ._task import Context, TaskError, INVALID_INPUT, INVALID_OUTPUT, invoke
from . import log, kv, http

__all__ = ["Context", "TaskError", "INVALID_INPUT", "INVALID_OUTPUT", "invoke", "log", "kv", "http"]
