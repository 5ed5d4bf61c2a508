"""The task's shape: the context a handler gets, the error it raises, and
``invoke``, which runs a handler on JSON text as the host does."""

import json
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

#: The ASL error for an input that is not JSON (the host only sends JSON).
INVALID_INPUT = "InvalidTaskInput"
#: The ASL error for a result that cannot be written as JSON.
INVALID_OUTPUT = "InvalidTaskOutput"
#: How many of an unexpected exception's innermost frames are logged.
TRACEBACK_FRAMES = 8


@dataclass(frozen=True)
class Context:
    """What the host tells a handler about the invocation."""

    #: The execution's id (unique per run of a state machine).
    execution_id: str = ""
    #: The name of the Task state being run.
    state_name: str = ""
    #: 1 for the first attempt, 2 for the first retry, and so on.
    attempt: int = 1
    #: The task token, when the state's resource asks for one (else None).
    task_token: Optional[str] = None


class TaskError(Exception):
    """A handled failure: ``raise TaskError("PaymentDeclined", "card expired")``.

    ``error`` is the ASL error name that Retry and Catch match; the cause
    (``str(exc)``) is free text for people. A subclass is raised with the
    cause alone, ``raise PaymentDeclined("card expired")``: its ASL error is
    its ``error`` class attribute when set, else its class name.
    """

    error: str = ""

    def __init__(self, *args: str):
        if type(self) is TaskError:
            # TaskError(error, cause)
            error, cause = (tuple(args) + ("", ""))[:2]
        else:
            # A subclass: its `error` attribute or its class name; the cause alone.
            error, cause = type(self).error or type(self).__name__, (args[0] if args else "")
        super().__init__(cause)
        self.error = error

    @property
    def cause(self) -> str:
        return str(self)


def error_of(exc: BaseException) -> Tuple[str, str]:
    """The (ASL error, cause) a raised exception fails the task with."""
    name = getattr(exc, "error", None)
    if not isinstance(name, str) or not name:
        name = type(exc).__name__
    try:
        cause = str(exc)
    except Exception as e:  # a broken __str__ must not hide the failure
        cause = f"(str() of the {name} raised {type(e).__name__})"
    return name, cause


def _encode(result: Any) -> str:
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def invoke(handler: Callable[[Any, Context], Any], input: str, context: Optional[Context] = None):
    """Runs ``handler`` on the JSON text ``input`` as the host would:
    ``(output_json, None)`` on success, ``(None, (error, cause))`` when it
    raised. Exceptions that are not ``TaskError`` have their traceback logged."""
    from . import log

    try:
        event = json.loads(input)
    except (ValueError, RecursionError) as e:
        return None, (INVALID_INPUT, f"the input is not JSON the handler can read: {e}")
    try:
        result = handler(event, context or Context())
    except MemoryError:
        # The memory cap reached: left to trap, so the host reports the limit
        # (States.TaskFailed, "memory limit exceeded ...") as for any module.
        raise
    except BaseException as exc:  # SystemExit too: sys.exit() fails the task
        if not isinstance(exc, TaskError):
            try:
                log.error("".join(traceback.format_exception(exc, limit=-TRACEBACK_FRAMES)).rstrip())
            except Exception:  # the failure is reported all the same
                pass
        return None, error_of(exc)
    try:
        return _encode(result), None
    except (TypeError, ValueError, RecursionError) as e:
        return None, (INVALID_OUTPUT, f"cannot serialise the handler's result as JSON: {e}")
