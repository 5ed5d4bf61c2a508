"""The key-value store of the resource's kv grant (its namespace).

Writes are staged during the invocation and committed together only when the
task succeeds; reads see the invocation's own writes. Keys and values are
strings; ``get_json``/``set_json`` store JSON text. A refused call (a limit, a
store failure, a value that is not JSON) raises ``KvError``, which fails the
task with the ASL error ``KvFailed`` unless the handler catches it.
Natively the store is a dict (``clear()`` empties it)."""

import json
from typing import Any, Optional

from ._component import IN_COMPONENT, binding, not_imported

#: The ASL error a KvError fails the task with.
KV_FAILED = "KvFailed"


class KvError(Exception):
    """A kv call the host refused; the task's ASL error is ``KvFailed``."""

    error = KV_FAILED


_wit = binding("kv")

if _wit is not None:
    from componentize_py_types import Err as _Err

    def get(key: str) -> Optional[str]:
        """The value stored under ``key``, or None."""
        try:
            return _wit.get(key)
        except _Err as e:
            raise KvError(e.value) from None

    def set(key: str, value: str) -> None:
        """Stages ``value`` under ``key``."""
        try:
            _wit.set(key, value)
        except _Err as e:
            raise KvError(e.value) from None

    def delete(key: str) -> None:
        """Stages the removal of ``key``."""
        try:
            _wit.delete(key)
        except _Err as e:
            raise KvError(e.value) from None

    def clear() -> None:
        raise KvError("kv.clear() is for native tests only")

elif IN_COMPONENT:

    def get(key: str) -> Optional[str]:
        raise KvError(not_imported("kv"))

    def set(key: str, value: str) -> None:
        raise KvError(not_imported("kv"))

    def delete(key: str) -> None:
        raise KvError(not_imported("kv"))

    def clear() -> None:
        raise KvError("kv.clear() is for native tests only")

else:
    _native = {}

    def get(key: str) -> Optional[str]:
        """The value stored under ``key``, or None."""
        return _native.get(key)

    def set(key: str, value: str) -> None:
        """Stages ``value`` under ``key``."""
        if not isinstance(value, str):
            raise KvError(f"the value for key {key!r} must be a string, not {type(value).__name__}")
        _native[key] = value

    def delete(key: str) -> None:
        """Stages the removal of ``key``."""
        _native.pop(key, None)

    def clear() -> None:
        """Empties the native store (tests)."""
        _native.clear()


def get_json(key: str) -> Any:
    """The value under ``key`` parsed as JSON, or None when there is none; a
    value that is not JSON raises ``KvError`` naming the key."""
    text = get(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise KvError(f"the value under key {json.dumps(key)} is not JSON: {e}") from None


def set_json(key: str, value: Any) -> None:
    """Stages ``value`` written as compact JSON under ``key``."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise KvError(f"cannot serialise the value for key {json.dumps(key)}: {e}") from None
    set(key, text)
