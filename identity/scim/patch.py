"""SCIM PATCH (RFC 7644 §3.5.2) as identity providers really send it.

django-scim2 leaves most of PATCH to the application ("handling [complex paths] is above
and beyond what the maintainer has time for"), so operations are applied here to a plain
representation of the resource, which is then saved like a PUT. Accepted shapes include:

- ``op`` in any case ("Replace", "Add", "remove": Entra ID capitalises);
- no ``path`` and a ``value`` object of attribute paths (Okta: ``{"active": false}``);
- ``active`` as a boolean or as the string "True"/"False" (Entra ID);
- value filters such as ``emails[type eq "work"].value`` and ``members[value eq "…"]``;
- Entra ID's group ``members`` add/remove with ``[{"value": id}]`` lists.

Attributes we do not keep (phone numbers, addresses, the enterprise extension…) are
accepted and ignored, as identity providers send whatever their mapping holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .services import ScimError

OPS = ("add", "replace", "remove")
CORE_USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
_PATH = re.compile(
    r"^(?P<attr>[A-Za-z$][\w$-]*)"
    r"(?:\[(?P<filter>[^\]]*)\])?"
    r"(?:\.(?P<sub>[A-Za-z$][\w$-]*))?$")
_FILTER = re.compile(r'^\s*(?P<attr>[A-Za-z][\w.]*)\s+eq\s+"(?P<value>(?:[^"\\]|\\.)*)"\s*$',
                     re.IGNORECASE)


@dataclass(frozen=True)
class Path:
    attr: str  # lower case
    filter_attr: str | None = None  # lower case
    filter_value: str | None = None
    sub: str | None = None  # lower case


def path_parse(raw: Any, core_urn: str) -> Path | None:
    """A parsed path, or None for an extension attribute we do not keep."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 500:
        raise ScimError("Invalid path.", scim_type="invalidPath")
    raw = raw.strip()
    if raw.lower().startswith("urn:"):
        if not raw.lower().startswith(core_urn.lower() + ":"):
            return None  # e.g. the enterprise extension: not kept
        raw = raw[len(core_urn) + 1:]
    match = _PATH.match(raw)
    if match is None:
        raise ScimError(f"Invalid path: {raw!r}.", scim_type="invalidPath")
    path = Path(attr=match["attr"].lower(), sub=(match["sub"] or "").lower() or None)
    if match["filter"] is not None:
        found = _FILTER.match(match["filter"])
        if found is None:
            raise ScimError(f"Unsupported value filter: {match['filter']!r}.",
                            scim_type="invalidFilter")
        path = Path(attr=path.attr, sub=path.sub, filter_attr=found["attr"].lower(),
                    filter_value=found["value"].replace('\\"', '"'))
    return path


def bool_parse(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ScimError("active must be true or false.", scim_type="invalidValue")


def operations_iter(operations: Any, core_urn: str):
    """Yield (op, Path | None, value) for each operation, the no-path form expanded."""
    if not isinstance(operations, list) or not operations:
        raise ScimError("PATCH needs a non-empty Operations list.", scim_type="invalidSyntax")
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError("Each operation must be an object.", scim_type="invalidSyntax")
        op = str(operation.get("op", "")).strip().lower()
        if op not in OPS:
            raise ScimError(f"Unknown PATCH op {operation.get('op')!r}.",
                            scim_type="invalidSyntax")
        value = operation.get("value")
        raw_path = operation.get("path")
        if raw_path in (None, ""):
            if op == "remove":
                raise ScimError("remove needs a path.", scim_type="noTarget")
            if not isinstance(value, dict):
                raise ScimError("Without a path, value must be an object of attributes.",
                                scim_type="invalidValue")
            for key, item in value.items():
                if key in ("schemas", "id", "meta"):
                    continue
                if isinstance(key, str) and key.lower().startswith("urn:") and isinstance(
                        item, dict) and not key.lower().startswith(core_urn.lower()):
                    continue  # an extension object, e.g. {"urn:…:enterprise:2.0:User": {…}}
                yield op, path_parse(key, core_urn), item
        else:
            yield op, path_parse(raw_path, core_urn), value


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ScimError(f"{name} must be a string.", scim_type="invalidValue")


def _emails(value: Any) -> list[dict]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ScimError("emails must be a list of objects.", scim_type="invalidValue")
    return [dict(v) for v in value]


def user_apply(state: dict, op: str, path: Path | None, value: Any) -> None:
    """Apply one operation to a user representation (see adapters.ScimUserAdapter)."""
    if path is None:
        return
    simple = {"username": "userName", "externalid": "externalId", "displayname": "displayName",
              "title": "title"}
    if path.attr in simple and path.sub is None and path.filter_attr is None:
        key = simple[path.attr]
        if op == "remove" and key == "userName":
            raise ScimError("userName cannot be removed.", scim_type="mutability")
        state[key] = "" if op == "remove" else _text(value, key)
    elif path.attr == "active":
        if op == "remove":
            raise ScimError("active cannot be removed.", scim_type="mutability")
        state["active"] = bool_parse(value)
    elif path.attr == "name":
        name = state.setdefault("name", {})
        if path.sub:
            keys = {"givenname": "givenName", "familyname": "familyName",
                    "formatted": "formatted"}
            if path.sub in keys:
                name[keys[path.sub]] = "" if op == "remove" else _text(value, path.sub)
        elif op == "remove":
            state["name"] = {}
        elif isinstance(value, dict):
            for key in ("givenName", "familyName", "formatted"):
                if key in value:
                    name[key] = _text(value[key], key)
        else:
            raise ScimError("name must be an object.", scim_type="invalidValue")
    elif path.attr == "emails":
        _emails_apply(state, op, path, value)
    # Anything else (phoneNumbers, addresses, locale, …) is not kept.


def _emails_apply(state: dict, op: str, path: Path, value: Any) -> None:
    emails: list[dict] = state.setdefault("emails", [])
    if path.filter_attr is None and path.sub is None:
        if op == "remove":
            state["emails"] = []
        elif op == "replace":
            state["emails"] = _emails(value)
        else:
            emails.extend(_emails(value))
        return
    if path.filter_attr is not None:
        matches = [e for e in emails
                   if str(e.get(path.filter_attr, "")).lower() == str(path.filter_value).lower()]
    else:
        matches = [e for e in emails if e.get("primary")] or emails[:1]
    if op == "remove":
        if path.sub in (None, "value"):
            state["emails"] = [e for e in emails if e not in matches]
        return
    if path.sub not in (None, "value", "primary", "type"):
        return
    if not matches:
        entry: dict = {}
        if path.filter_attr is not None:
            entry[path.filter_attr] = path.filter_value
        emails.append(entry)
        matches = [entry]
    for entry in matches:
        if path.sub is None:
            entry.update(_emails(value)[0])
        elif path.sub == "primary":
            entry["primary"] = bool_parse(value)
        else:
            entry[path.sub] = _text(value, f"emails.{path.sub}")


def member_ids(value: Any) -> list[str]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ScimError("members must be a list of {\"value\": id} objects.",
                        scim_type="invalidValue")
    ids = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise ScimError("members must be a list of {\"value\": id} objects.",
                            scim_type="invalidValue")
        ids.append(item["value"])
    return ids
