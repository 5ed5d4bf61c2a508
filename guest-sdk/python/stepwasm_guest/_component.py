"""Whether this code runs inside a component built by componentize-py (its
generated ``wit_world`` bindings importable) or natively, for tests; and which
of the optional capabilities the component was built to import
(scripts/build-python-guest.sh's imports: a component imports only those, so
its resource needs only those grants)."""

import importlib

try:
    import wit_world  # noqa: F401

    IN_COMPONENT = True
except ImportError:
    IN_COMPONENT = False


def binding(interface):
    """The generated bindings of ``interface`` (log, kv, http), or None when
    the component was built without it (or natively)."""
    if not IN_COMPONENT:
        return None
    try:
        return importlib.import_module(f"wit_world.imports.{interface}")
    except ImportError:
        return None


def not_imported(interface):
    return (
        f"this component was built without the {interface} capability: build it with {interface} among its imports "
        f"(scripts/build-python-guest.sh <dir> <out.wasm> log,{interface}) and grant {interface} to its resource"
    )
