"""How the fake Replicate checks a prediction request, the way the real API does.

What Replicate answers, as seen from its clients (the shapes are copied, not invented):

* ``POST /v1/models/{owner}/{name}/predictions`` serves official models only. A community
  model, or a model that does not exist: 404 ``{"detail": "The requested resource could not
  be found.", "status": 404}``.
* ``POST /v1/predictions`` needs ``version``; the body may hold only the documented keys.
  Both failures come back together as 422 "Input validation failed" with ``invalid_fields``
  (``- version is required``, ``- Additional property model is not allowed``).
* ``version`` may be "{version_id}", "{owner}/{name}:{version_id}" or, for an official
  model, "{owner}/{name}" (Replicate's changelog, 2025-08-05). A version that does not
  exist, a model:version pair that does not match, a community model without a version, or
  an official model's version id (official models run by name only): 422 "Invalid version
  or not permitted".
* The input is checked against the version's schema: a missing required input, a wrong
  type, a value outside an enum or a range: 422 "Input validation failed", one line per
  problem in ``detail`` and one entry per problem in ``invalid_fields`` (gojsonschema's
  wording, which Replicate passes on: ``- input.output_format: output_format must be one of
  the following: "jpg", "png"``). An input the schema does not declare is refused the same
  way ("Additional property … is not allowed"): stricter than a model that ignores extras,
  so a misspelt input name can never pass here unnoticed.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from generation.backends.replicate_schemas import SCHEMAS, VersionSchema

NOT_FOUND = {"detail": "The requested resource could not be found.", "status": 404}
INVALID_VERSION = {
    "title": "Invalid version or not permitted",
    "detail": "The specified version does not exist (or perhaps you don't have permission to "
              "use it?)",
    "status": 422,
}
# The body keys each create endpoint takes (Replicate's HTTP API reference).
BY_VERSION_KEYS = frozenset({"version", "input", "webhook", "webhook_completed",
                             "webhook_events_filter", "stream"})
BY_NAME_KEYS = BY_VERSION_KEYS - {"version"}


@dataclass(frozen=True)
class InvalidField:
    type: str  # gojsonschema's error type: required, invalid_type, enum, number_gte, ...
    field: str  # "" for the body itself, "input" or "input.<name>"
    description: str


class Catalogue:
    """The models the fake serves: every version by id, official models also by name."""

    def __init__(self, schemas: dict[str, VersionSchema] | None = None) -> None:
        self.versions: dict[str, VersionSchema] = dict(SCHEMAS if schemas is None else schemas)

    def add(self, schema: VersionSchema) -> None:
        self.versions[schema.version] = schema

    def official(self, model: str) -> VersionSchema | None:
        """The version an official model runs by name (the last one added); None for a
        community model or an unknown one."""
        found = [s for s in self.versions.values() if s.model == model]
        return found[-1] if found and found[-1].official else None

    def runnable_version(self, version: Any) -> VersionSchema | None:
        """What ``POST /v1/predictions`` runs for its ``version``; None where the real API
        answers 422. Since August 2025 it takes "{version_id}", "{owner}/{name}:{version_id}"
        and, for official models only, "{owner}/{name}"; an official model's version id is
        not runnable (official models run by name)."""
        if not isinstance(version, str):
            return None
        model, colon, version_id = version.rpartition(":")
        if not colon:
            if "/" in version:  # "owner/name": official models only
                return self.official(version)
            model, version_id = "", version
        schema = self.versions.get(version_id)
        if schema is None or schema.official or (model and model != schema.model):
            return None
        return schema


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _matches_type(value: Any, expected: str) -> bool:
    given = _json_type(value)
    return given == expected or (expected == "number" and given == "integer")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def body_errors(body: Any, *, allowed: frozenset[str], needs_version: bool
                ) -> list[InvalidField]:
    if not isinstance(body, dict):
        return [InvalidField("invalid_type", "", "Invalid type. Expected: object, given: "
                             + _json_type(body))]
    errors = []
    if needs_version and "version" not in body:
        errors.append(InvalidField("required", "", "version is required"))
    errors += [InvalidField("additional_property_not_allowed", "",
                            f"Additional property {key} is not allowed")
               for key in body if key not in allowed]
    if "input" in body and not isinstance(body["input"], dict):
        errors.append(InvalidField("invalid_type", "input", "Invalid type. Expected: object, "
                                   f"given: {_json_type(body['input'])}"))
    elif "input" not in body:
        errors.append(InvalidField("required", "", "input is required"))
    return errors


def input_errors(schema: dict[str, Any], inputs: dict[str, Any]) -> list[InvalidField]:
    """Every way ``inputs`` breaks ``schema``, in gojsonschema's words."""
    properties: dict[str, dict[str, Any]] = schema.get("properties", {})
    errors = [InvalidField("required", "input", f"{name} is required")
              for name in schema.get("required", []) if name not in inputs]
    for name, value in inputs.items():
        field = f"input.{name}"
        spec = properties.get(name)
        if spec is None:
            errors.append(InvalidField("additional_property_not_allowed", "input",
                                       f"Additional property {name} is not allowed"))
            continue
        expected = spec.get("type")
        if expected and not _matches_type(value, expected):
            errors.append(InvalidField("invalid_type", field, f"Invalid type. Expected: "
                                       f"{expected}, given: {_json_type(value)}"))
            continue
        if "enum" in spec and value not in spec["enum"]:
            allowed = ", ".join(json.dumps(option) for option in spec["enum"])
            errors.append(InvalidField("enum", field,
                                       f"{name} must be one of the following: {allowed}"))
        if "minimum" in spec and value < spec["minimum"]:
            errors.append(InvalidField("number_gte", field, "Must be greater than or equal "
                                       f"to {_number(spec['minimum'])}"))
        if "maximum" in spec and value > spec["maximum"]:
            errors.append(InvalidField("number_lte", field, "Must be less than or equal to "
                                       f"{_number(spec['maximum'])}"))
        if spec.get("format") == "uri" and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S", value):
            errors.append(InvalidField("format", field, "Does not match format 'uri'"))
    return errors


def validation_problem(errors: list[InvalidField]) -> dict[str, Any]:
    """The 422 body Replicate sends for ``errors``."""
    lines = "".join(f"- {e.field}: {e.description}\n" if e.field else f"- {e.description}\n"
                    for e in errors)
    return {"detail": lines, "status": 422, "title": "Input validation failed",
            "invalid_fields": [asdict(e) for e in errors]}
