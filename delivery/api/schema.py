"""The OpenAPI schema says what every operation can answer, errors included, so clients (and
our schemathesis run) can rely on it: a postprocessing hook for drf-spectacular."""

from __future__ import annotations

from typing import Any

_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}},
           "required": ["detail"]}
# DRF's validation errors: a field (or "detail", "non_field_errors") → its messages.
_INVALID = {"type": "object", "additionalProperties": {
    "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"},
              {"type": "object"}]}}
_ERRORS = {
    "400": ("The request is malformed: a parameter, cursor or body is wrong (details inside).",
            _INVALID),
    "401": ("No API key, or one that is unknown, revoked or expired.", _DETAIL),
    "403": ("The key may not do this (a read key writing).", _DETAIL),
    "404": ("No such object in this key's company.", _DETAIL),
    "415": ("The body's content type is not JSON or a form.", _DETAIL),
    "429": ("Too many requests for this key; retry after the Retry-After header.", _DETAIL),
}


def error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/") or path.endswith(("/schema/", "/docs/")):
            continue
        for method, operation in operations.items():
            codes = ["400", "401", "403", "429"]
            if "{" in path:
                codes.append("404")
            if method in ("post", "put", "patch"):
                codes.append("415")
            responses = operation.setdefault("responses", {})
            for code in codes:
                description, schema = _ERRORS[code]
                responses.setdefault(code, {"description": description, "content": {
                    "application/json": {"schema": schema}}})
    return result
