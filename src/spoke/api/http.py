"""Small HTTP helpers shared by the resources: JSON bodies, pagination, caching headers."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlencode

import falcon

from spoke.domain import Page
from spoke.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType, bounded

__all__ = [
    "DEFAULT_LIMIT",
    "FLAG_VALUES",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "Pagination",
    "add_route",
    "conditional_immutable",
    "expect_fields",
    "optional_str",
    "parse_json",
    "query_flag",
    "query_int",
    "query_text",
    "read_json",
    "send_page",
]

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
MAX_LISTED_FIELDS = 20


def read_json(req: falcon.Request, *, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, within ``max_bytes``.

    Raises ``PayloadTooLarge`` before reading a body whose declared length is too large, and
    after reading ``max_bytes + 1`` bytes of one that did not declare it.
    """
    length = req.content_length
    if length is not None and length > max_bytes:
        raise _too_large(max_bytes)
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    if not raw:
        raise InvalidRequest("the request body is empty; send a JSON object")
    content_type = (req.content_type or "application/json").split(";")[0].strip().lower()
    if content_type not in ("application/json", "text/json") and not content_type.endswith("+json"):
        shown = bounded(content_type, 100)
        raise UnsupportedMediaType(
            f"unsupported content type {shown!r}; send application/json",
            details={"content_type": shown},
        )
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    # JSON may escape a lone UTF-16 surrogate ("\ud800"), which no UTF-8 text can hold: refuse it
    # here, before it can be stored or echoed into a response that then cannot be encoded.
    if b"\\ud" in raw.lower() and _holds_lone_surrogate(body):
        raise InvalidRequest("the request body holds a lone surrogate (\\ud800-\\udfff escape)")
    return body


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON the way RFC 8259 defines it, or ``InvalidRequest``.

    Python's json module reads more: ``NaN``, ``Infinity`` and ``-Infinity``, ``1e400`` as an
    infinity, and a repeated key (keeping the last value). Its hooks refuse those, at the cost of
    one Python call per object (``benchmarks/profile_json_body.py``: +4 ms on the 17 ms parse
    of a 10,000-file push body, whose push takes about 9 s).
    """
    try:
        return json.loads(
            raw,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_object_without_duplicates,
        )
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {_short(exc)}") from None


def _refuse_constant(name: str) -> Any:
    raise InvalidRequest(f"the request body is not valid JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity
        raise InvalidRequest(
            f"the request body is not valid JSON: the number {bounded(text, 32)} is out of range"
        )
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, refused when a key repeats: json keeps the last value silently, so the
    request would mean something other than what a reader of it (or another parser) sees."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidRequest(
                    f"the request body repeats the key {bounded(key)!r} in one object",
                    details={"key": bounded(key)},
                )
            seen.add(key)
    return obj


def _holds_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than the limit of {max_bytes} bytes",
        details={"max_bytes": max_bytes},
    )


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def expect_fields(
    body: dict[str, Any], *, required: Sequence[str] = (), optional: Sequence[str] = ()
) -> None:
    """Refuse missing required fields and unknown fields (a typo must not pass silently)."""
    missing = [name for name in required if name not in body]
    if missing:
        raise InvalidRequest(
            f"missing required field(s): {', '.join(missing)}", details={"missing": missing}
        )
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        # Named, but only so many and each cut short: a body may hold a million unknown keys.
        shown = [bounded(name, 64) for name in unknown[:MAX_LISTED_FIELDS]]
        more = len(unknown) - len(shown)
        raise InvalidRequest(
            f"unknown field(s): {', '.join(shown)}" + (f" and {more} more" if more else ""),
            details={"unknown": shown},
        )


def optional_str(body: dict[str, Any], name: str, *, max_length: int) -> str | None:
    """A string field that may be absent or null, at most ``max_length`` characters."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string", details={"field": name})
    if len(value) > max_length:
        raise InvalidRequest(
            f"'{name}' is longer than {max_length} characters", details={"field": name}
        )
    return value


class Pagination:
    """``limit`` and ``offset`` from the query string, checked."""

    def __init__(self, req: falcon.Request) -> None:
        self.limit = query_int(req, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        self.offset = query_int(req, "offset", default=0, low=0, high=MAX_OFFSET)


def query_int(req: falcon.Request, name: str, *, default: int, low: int, high: int) -> int:
    """An integer query parameter written with the ASCII digits ``0-9`` only, within bounds.

    Python's ``int()`` alone would also take ``" 5"``, ``"+5"``, ``"5_0"`` and other scripts'
    digits (a full-width 5, U+FF15): none of them is an integer a client means to send, nor one
    the spec allows.
    """
    raw = req.get_param(name)
    if raw is None:
        return default
    if not _ASCII_DIGITS.fullmatch(raw):
        raise InvalidRequest(
            f"'{name}' must be an integer written with the digits 0-9",
            details={"parameter": name},
        )
    significant = raw.lstrip("0")
    # Longer than any bound: never handed to int(), which refuses past 4300 digits anyway.
    value = int(significant or "0") if len(significant) <= len(str(high)) else high + 1
    if not low <= value <= high:
        raise InvalidRequest(
            f"'{name}' must be between {low} and {high}", details={"parameter": name}
        )
    return value


# How a boolean query parameter may be written (openapi.yaml's Flag): the usual spellings, Python's
# str(True) among them, and nothing else. An empty value (``?raw=``) is refused, not read as
# true (falcon's reading) or false: it is most likely a CI script's variable that came out empty.
FLAG_VALUES = {
    "true": True,
    "false": False,
    "True": True,
    "False": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
}


def query_flag(req: falcon.Request, name: str) -> bool:
    """A boolean query parameter: absent is false, else one of :data:`FLAG_VALUES`."""
    raw = req.get_param(name)
    if raw is None:
        return False
    value = FLAG_VALUES.get(raw)
    if value is None:
        raise InvalidRequest(
            f"'{name}' must be true or false (or 1/0, yes/no)", details={"parameter": name}
        )
    return value


def query_text(req: falcon.Request, name: str) -> str | None:
    """An optional query parameter that is absent or not empty (an empty one is 400)."""
    raw = req.get_param(name)
    if raw == "":
        raise InvalidRequest(
            f"'{name}' is empty; leave it out, or give it a value", details={"parameter": name}
        )
    return raw


def send_page(
    req: falcon.Request,
    resp: falcon.Response,
    page: Page[T],
    pagination: Pagination,
    items: list[dict[str, Any]],
    *,
    query: Mapping[str, str] = MappingProxyType({}),
) -> None:
    """Write a list body with ``X-Total-Count`` and, when more follows, ``Link: rel="next"``.

    ``query`` is the endpoint's own parameters besides ``limit`` and ``offset``, as it understood
    them (checked and bounded): the next link carries those and nothing else, so a parameter the
    endpoint ignores is not copied into every following page (nor an 80 KB one into a header).
    """
    resp.media = items
    resp.set_header("X-Total-Count", str(page.total))
    next_offset = pagination.offset + len(page.items)
    if page.items and next_offset < page.total:
        params = {**query, "limit": str(pagination.limit), "offset": str(next_offset)}
        # Written by hand: RFC 8288 examples quote the relation type, and clients match on it.
        resp.append_header("Link", f'<{req.path}?{urlencode(sorted(params.items()))}>; rel="next"')


def add_route(
    app: falcon.App[falcon.Request, falcon.Response], template: str, resource: object
) -> None:
    """``app.add_route``, where a GET route also answers HEAD (RFC 9110: HEAD is GET without
    the body). Falcon answers 405 to HEAD unless a resource has ``on_head``: a resource without
    one gets its ``on_get`` as ``on_head``; it runs as for a GET (status, ``ETag``,
    ``Cache-Control``, a 304 included), falcon keeps the body's ``Content-Length`` and drops the
    body. A resource whose body costs more than its headers (a download) defines ``on_head``.
    """
    on_get = getattr(resource, "on_get", None)
    if on_get is not None and not hasattr(resource, "on_head"):
        resource.on_head = on_get  # type: ignore[attr-defined]
    app.add_route(template, resource)


def conditional_immutable(req: falcon.Request, resp: falcon.Response, *, etag: str) -> bool:
    """Mark an immutable response; answer 304 when the client already holds it.

    Returns ``True`` when the response is complete (304) and the caller must not add a body.
    """
    # Headers set and read directly: this runs on every read of an exact version, and falcon's
    # etag and cache_control setters format, and get_header translates the name, each time.
    resp.set_header("ETag", f'"{etag}"')
    resp.set_header("Cache-Control", IMMUTABLE_CACHE_CONTROL)
    if_none_match = req.env.get("HTTP_IF_NONE_MATCH")
    if if_none_match and _etag_matches(if_none_match, etag):
        resp.status = falcon.HTTP_304
        return True
    return False


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    quoted = f'"{etag}"'
    return any(tag.strip().removeprefix("W/") == quoted for tag in header.split(","))
