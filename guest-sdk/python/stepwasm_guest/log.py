"""Log lines the host attaches to the execution (``stepwasm run --logs``),
under the resource's line and byte limits (lines past them are dropped and
counted). Natively the lines are appended to ``lines`` as (level, message)."""

from ._component import binding

lines = []
_wit = binding("log")

if _wit is not None:

    _LEVELS = {
        "debug": _wit.Level.DEBUG,
        "info": _wit.Level.INFO,
        "warn": _wit.Level.WARN,
        "error": _wit.Level.ERROR,
    }

    def log(level: str, message: str) -> None:
        """Writes ``message`` at ``level`` (debug, info, warn or error)."""
        _wit.log(_LEVELS.get(level, _wit.Level.INFO), str(message))

else:

    def log(level: str, message: str) -> None:
        """Writes ``message`` at ``level`` (debug, info, warn or error)."""
        lines.append((level, str(message)))


def debug(message: str) -> None:
    log("debug", message)


def info(message: str) -> None:
    log("info", message)


def warn(message: str) -> None:
    log("warn", message)


def error(message: str) -> None:
    log("error", message)
