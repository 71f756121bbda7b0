"""Parsing outside input without surprises: bounded JSON and bounded integers.

Everything a request, a webhook or a signed token hands us goes through one of these before
it reaches a query or a model, so a garbled value is a clear 4xx instead of a
RecursionError, an OverflowError or a database error about an out-of-range column.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

# Deeper than any document we accept (Stripe events nest about 6 levels; our API 2).
MAX_JSON_DEPTH = 32
# Database primary keys and every integer column we filter on are 64-bit signed.
MAX_BIGINT = 2**63 - 1

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKETS = re.compile(rb"[\[\]{}]")
_DIGITS = re.compile(r"[0-9]{1,19}")


class InputInvalid(ValueError):
    """Outside input we refuse; the message is safe to show whoever sent it."""


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it.

    Written by hand because the standard parser recurses (a few thousand ``[`` raise
    RecursionError) and no maintained library only measures: strings are blanked out, then
    brackets are counted.
    """
    depth = deepest = 0
    for match in _JSON_BRACKETS.finditer(_JSON_STRING.sub(b'""', data)):
        if match[0] in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def json_loads_bounded(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth``, and never
    raises anything but InputInvalid."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if json_depth(raw) > max_depth:
        raise InputInvalid(f"The JSON is nested more than {max_depth} levels deep.")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise InputInvalid("The body is not valid JSON.") from error


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Python's extension, not JSON


def json_object_bounded(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """A JSON object (not an array, string, number or null), bounded like ``json_loads_bounded``."""
    value = json_loads_bounded(data, max_depth=max_depth)
    if not isinstance(value, dict):
        raise InputInvalid("The body must be a JSON object.")
    return value


class WebhookInvalid(Exception):
    """A webhook delivery we must not trust; ``reason`` is short and safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def webhook_json(body: bytes, *, refusal: str) -> dict[str, Any]:
    """The JSON object a delivery whose signature was checked carries (bounded like
    ``json_object_bounded``); otherwise WebhookInvalid, "``refusal``: why"."""
    try:
        return json_object_bounded(body)
    except InputInvalid as error:
        raise WebhookInvalid(f"{refusal}: {error}") from None


def int_bounded(value: Any, *, minimum: int = 0, maximum: int = MAX_BIGINT) -> int:
    """A whole number from outside (a query parameter, a header, a token claim) within bounds.

    Only ASCII digits (and a leading minus where ``minimum`` allows it): ``int()`` also takes
    "+1", " 1", "1_000" and other scripts' digits, and any length.
    """
    if isinstance(value, bool):
        raise InputInvalid("Must be a whole number.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value[1:] if value.startswith("-") and minimum < 0 else value
        if not _DIGITS.fullmatch(text):
            raise InputInvalid("Must be a whole number.")
        number = int(value)
    else:
        raise InputInvalid("Must be a whole number.")
    if not minimum <= number <= maximum:
        raise InputInvalid(f"Must be between {minimum} and {maximum}.")
    return number


def id_or_none(value: str | None) -> int | None:
    """An id from a query parameter or form field, or None for anything that is not one.

    ``str.isdigit`` is not enough: it is true for "²" and "٣", and ``int`` takes any length.
    """
    try:
        return int_bounded(value, minimum=1) if value else None
    except InputInvalid:
        return None


def safe_next(request: HttpRequest, candidate: str | None = None) -> str:
    """Where the request asks to go on to (``candidate``, else its ``next`` field or query
    parameter), or "" when that is not an address on this site: never an open redirect."""
    if candidate is None:
        candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return candidate
    return ""
