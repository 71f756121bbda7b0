"""The fake Stripe's wire format: ids and keys, bracketed form parameters, Stripe's error
answers, and what it records of each request."""

from __future__ import annotations

import re
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

import stripe

API_VERSION: str = stripe.api_version
_ALNUM = string.ascii_letters + string.digits


def _rand(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_id(prefix: str) -> str:
    """An id like Stripe's: ``cus_NffrFeUfNV2Hib``, ``cs_test_a1...``."""
    return f"{prefix}_{_rand(24 if prefix.endswith('_test') else 14)}"


def new_secret_key() -> str:
    return "sk_test_" + _rand(40)


def new_webhook_secret() -> str:
    return "whsec_" + _rand(32)


def _now() -> int:
    return int(time.time())


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracketed form keys as nested dicts and lists; values stay strings.

    ``line_items[0][price_data][currency]=usd`` -> ``{"line_items": [{"price_data":
    {"currency": "usd"}}]}``; ``expand[]=a`` appends. Raises ValueError on clashing keys.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
        if match is None:
            raise ValueError(f"Invalid parameter name: {key}")
        path = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node: dict[str, Any] = root
        for index, part in enumerate(path):
            if part == "":
                part = str(len(node))  # "[]" appends
            last = index == len(path) - 1
            if last:
                if isinstance(node.get(part), dict):
                    raise ValueError(f"Invalid parameter: {key} is both a value and a hash")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise ValueError(f"Invalid parameter: {key} is both a value and a hash")
                node = child
    return _listify(root)


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {k: _listify(v) for k, v in value.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


class _ApiError(Exception):
    """Answered as Stripe's error JSON: ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",  # noqa: A002
                 code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.error: dict[str, Any] = {"message": message, "type": type}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param


def _missing(param: str) -> _ApiError:
    return _ApiError(400, f"Missing required param: {param}.", code="parameter_missing",
                     param=param)


def _no_such(kind: str, object_id: str, param: str = "id", status: int = 404) -> _ApiError:
    return _ApiError(status, f"No such {kind}: '{object_id}'", code="resource_missing",
                     param=param)


def _int(params: dict[str, Any], key: str, param: str, default: int | None = None) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        if default is None:
            raise _missing(param)
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise _ApiError(400, f"Invalid integer: {raw}", code="parameter_invalid_integer",
                        param=param) from None


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    raw = params.get("metadata") or {}
    if not isinstance(raw, dict):
        raise _ApiError(400, "Invalid hash", code="parameter_invalid_empty", param="metadata")
    return {str(k): str(v) for k, v in raw.items() if v != ""}


def _opt(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return None if value in (None, "") else str(value)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, Any]  # the query string, parsed like a form
    headers: dict[str, str]  # names lower-cased
    form: dict[str, Any]  # the parsed form body ({} for none)
    body: bytes


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None
    message: str | None
    should_retry: bool | None
    applied: bool



def _unrecognized(method: str, path: str) -> _ApiError:
    return _ApiError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                     "https://stripe.com/docs or we can help at https://support.stripe.com/.")
