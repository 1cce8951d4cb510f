"""Small helpers shared by the emulator's REST handlers: JSON answers, Discord errors, bodies."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tether.wire.codec import DecodeError, decode_json, encode_json

__all__ = [
    "BODY_KEY",
    "INVALID",
    "RESULT_KEY",
    "digits",
    "error",
    "form_error",
    "json_response",
    "read_body",
]

#: Where the REST wrapper keeps the decoded body on the request (``request[BODY_KEY]``).
BODY_KEY: web.RequestKey[Any] = web.RequestKey("tether_body")
#: Where a handler leaves the id of the message it created (logged with the call).
RESULT_KEY: web.RequestKey[str] = web.RequestKey("tether_result", str)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json``."""
    response = web.Response(body=encode_json(body), status=status, headers=headers)
    response.headers["Content-Type"] = "application/json"
    return response


def error(status: int, code: int, message: str, errors: Any = None) -> web.Response:
    """Discord's error body ``{"message", "code"[, "errors"]}`` (spec 11.5)."""
    body: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status)


def form_error(field: str, code: str, message: str) -> web.Response:
    """400 / 50035 Invalid Form Body with one field error (spec 11.5)."""
    errors: dict[str, Any] = {}
    node = errors
    parts = field.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = {"_errors": [{"code": code, "message": message}]}
    return error(400, 50035, "Invalid Form Body", errors)


def digits(raw: str) -> int:
    """A snowflake from a path segment (-1 when it is not one)."""
    return int(raw) if raw.isdigit() and len(raw) <= 20 else -1


async def read_body(request: web.Request) -> Any:
    """The JSON body, or the ``payload_json`` part of a multipart body.

    Returns:
        The decoded value; None when there is no body; :data:`INVALID` when it is not JSON.
    """
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        raw = form.get("payload_json")
        if raw is None:
            return {}
        if isinstance(raw, str):
            text = raw
        elif isinstance(raw, (bytes, bytearray)):
            text = bytes(raw).decode()
        else:
            text = raw.file.read().decode()
    else:
        text = await request.text()
    if not text.strip():
        return None
    try:
        return decode_json(text)
    except DecodeError:
        return INVALID


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


#: The body was not JSON.
INVALID: Any = _Invalid()
