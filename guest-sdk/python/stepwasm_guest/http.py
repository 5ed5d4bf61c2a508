"""Outgoing HTTP through the host, only to the URL prefixes of the resource's
http grant, under its per-request timeout, response size cap and call limit;
redirects are not followed.

    resp = http.fetch("https://gateway.example.com/v1/authorize",
                      method="POST", json={"orderId": "A-1"})
    if resp.ok:
        reply = resp.json()

A request that gets no response (refused by the grant, a limit, a network
failure) raises ``HttpError``, which fails the task with the ASL error
``HttpFailed`` unless the handler catches it. Natively every fetch raises it."""

import json as _json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

from ._component import IN_COMPONENT, binding, not_imported

#: The ASL error an HttpError fails the task with.
HTTP_FAILED = "HttpFailed"


class HttpError(Exception):
    """No response came; the task's ASL error is ``HttpFailed``."""

    error = HTTP_FAILED


@dataclass
class Response:
    status: int
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    def header(self, name: str) -> Optional[str]:
        """The first header named ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def text(self) -> str:
        """The body as UTF-8 text (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ``HttpError`` when it is not."""
        try:
            return _json.loads(self.body)
        except ValueError as e:
            raise HttpError(f"the response body is not JSON: {e}") from None


def _request(method: str, url: str, headers, body, json) -> Tuple[str, str, List[Tuple[str, str]], bytes]:
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if json is not None:
        if body is not None:
            raise HttpError("give fetch either body or json, not both")
        body = _json.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
        if not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.insert(0, ("content-type", "application/json"))
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode()
    return method.upper(), url, [(str(k), str(v)) for k, v in pairs], bytes(body)


_wit = binding("http")

if _wit is not None:
    from componentize_py_types import Err as _Err

    def fetch(
        url: str,
        method: str = "GET",
        headers: Union[Dict[str, str], List[Tuple[str, str]], None] = None,
        body: Union[bytes, str, None] = None,
        json: Any = None,
    ) -> Response:
        """Sends the request and waits for the whole response."""
        method, url, pairs, body = _request(method, url, headers, body, json)
        try:
            resp = _wit.fetch(_wit.Request(method=method, url=url, headers=pairs, body=body))
        except _Err as e:
            raise HttpError(e.value) from None
        return Response(status=resp.status, headers=list(resp.headers), body=bytes(resp.body))

else:

    def fetch(
        url: str,
        method: str = "GET",
        headers: Union[Dict[str, str], List[Tuple[str, str]], None] = None,
        body: Union[bytes, str, None] = None,
        json: Any = None,
    ) -> Response:
        """Natively (or built without http): always ``HttpError``."""
        method, url, _, _ = _request(method, url, headers, body, json)
        if IN_COMPONENT:
            raise HttpError(f"{method} {url}: {not_imported('http')}")
        raise HttpError(f"{method} {url}: http is only available inside a component (this handler runs natively)")
