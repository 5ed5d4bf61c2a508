"""The component's export, for componentize-py: ``componentize
stepwasm_guest.entry`` with the handler's directory on the path builds a
component whose ``stepwasm:task/handler.handle`` calls ``handler(event,
context)`` of the module ``app`` (see scripts/build-python-guest.sh).

The module is imported when the component is built (componentize-py runs the
imports and snapshots the interpreter), so an invocation starts from a warm,
already imported handler."""

import app as _app  # the handler project's app.py

from wit_world import exports as _exports
from wit_world.imports import types as _types
from componentize_py_types import Err as _Err

from ._task import Context, invoke

_handler = getattr(_app, "handler", None)
if not callable(_handler):
    raise TypeError(f"app.py ({getattr(_app, '__file__', 'app')}) must define a function handler(event, context)")


class Handler(_exports.Handler):
    def handle(self, input: str, ctx: _types.Context) -> str:
        context = Context(
            execution_id=ctx.execution_id,
            state_name=ctx.state_name,
            attempt=ctx.attempt,
            task_token=ctx.task_token,
        )
        output, failure = invoke(_handler, input, context)
        if failure is not None:
            raise _Err(_types.TaskError(error=failure[0], cause=failure[1]))
        return output
