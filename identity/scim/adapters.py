"""django-scim2 adapters: our ScimUser and ScimGroup rows as SCIM resources.

They translate between SCIM documents and the services; the services do the work (invite,
leaver policy, teams). Every adapter has a request whose ``scim_company`` and ``scim_token``
were set by the view after the token was checked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from django.urls import reverse
from django_scim import constants
from django_scim.adapters import SCIMGroup, SCIMUser
from django_scim.utils import get_base_scim_location_getter

from ..models import ScimGroup, ScimGroupMember, ScimUser
from . import patch, services
from .services import GroupFields, ScimError, UserFields


def user_model():
    return ScimUser


def _location(url_name: str, scim_id: str, request) -> str:
    path = reverse(url_name, kwargs={"uuid": scim_id})
    return urljoin(get_base_scim_location_getter()(request), path)


def _meta(resource_type: str, obj, location: str) -> dict:
    return {"resourceType": resource_type, "created": obj.created_at.isoformat(),
            "lastModified": obj.updated_at.isoformat(), "location": location}


def _text(d: dict, key: str) -> str:
    value = d.get(key)
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ScimError(f"{key} must be a string.", scim_type="invalidValue")
    return str(value)


class _CompanyResource:
    """What both adapters share: resources are known by their SCIM id, belong to the company
    whose token the view checked, and arrive as JSON objects."""

    id_field = "scim_id"

    @property
    def company(self):
        return self.request.scim_company

    def validate_dict(self, d: dict) -> None:
        if not isinstance(d, dict):
            raise ScimError("The body must be a JSON object.", scim_type="invalidSyntax")


class ScimUserAdapter(_CompanyResource, SCIMUser):
    url_name = "scim:users"

    @property
    def display_name(self) -> str:
        o = self.obj
        return o.display_name or " ".join(p for p in (o.given_name, o.family_name) if p) or o.user_name

    def to_dict(self) -> dict:
        o = self.obj
        groups = (ScimGroupMember.objects.for_company(self.company).filter(user=o)
                  .select_related("group").order_by("added_at", "pk"))
        d: dict[str, Any] = {
            "schemas": [constants.SchemaURI.USER],
            "id": str(o.scim_id),
            "userName": o.user_name,
            "name": {"givenName": o.given_name, "familyName": o.family_name,
                     "formatted": self.display_name},
            "displayName": self.display_name,
            "emails": [{"value": o.email, "type": "work", "primary": True}],
            "active": o.active,
            "groups": [{"value": str(link.group.scim_id), "display": link.group.display_name,
                        "$ref": _location("scim:groups", str(link.group.scim_id), self.request)}
                       for link in groups],
            "meta": _meta("User", o, self.location),
        }
        if o.external_id:
            d["externalId"] = o.external_id
        if o.title:
            d["title"] = o.title
        return d

    def from_dict(self, d: dict) -> None:
        """A full representation (POST, PUT). An absent ``active`` keeps the current value."""
        name = d.get("name") or {}
        if not isinstance(name, dict):
            raise ScimError("name must be an object.", scim_type="invalidValue")
        emails = d.get("emails") or []
        emails = [emails] if isinstance(emails, dict) else emails
        if not isinstance(emails, list):
            raise ScimError("emails must be a list.", scim_type="invalidValue")
        current_active = self.obj.active if self.obj.pk else True
        self.fields = UserFields(
            user_name=_text(d, "userName"), email=self._primary_email(emails),
            external_id=_text(d, "externalId"), given_name=_text(name, "givenName"),
            family_name=_text(name, "familyName"),
            display_name=_text(d, "displayName") or _text(name, "formatted"),
            title=_text(d, "title"),
            active=patch.bool_parse(d["active"]) if d.get("active") is not None else current_active,
        )

    @staticmethod
    def _primary_email(emails: list) -> str:
        usable = [e for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)
                  and e["value"].strip()]
        for rule in (lambda e: e.get("primary") in (True, "true", "True"),
                     lambda e: str(e.get("type", "")).lower() == "work", lambda e: True):
            for email in usable:
                if rule(email):
                    return email["value"].strip()
        return ""

    def _state(self) -> dict:
        o = self.obj
        return {"userName": o.user_name, "externalId": o.external_id,
                "displayName": o.display_name, "title": o.title, "active": o.active,
                "name": {"givenName": o.given_name, "familyName": o.family_name},
                "emails": [{"value": o.email, "type": "work", "primary": True}]}

    def handle_operations(self, operations: Any) -> None:
        state = self._state()
        for op, path, value in patch.operations_iter(operations, patch.CORE_USER_URN):
            patch.user_apply(state, op, path, value)
        self.from_dict(state)
        self.save()

    def save(self) -> None:
        if self.obj.pk is None:
            self.obj = services.scim_user_create(company=self.company, fields=self.fields,
                                                 token=self.request.scim_token)
        else:
            self.obj = services.scim_user_update(company=self.company, scim_user=self.obj,
                                                 fields=self.fields,
                                                 token=self.request.scim_token)

    def delete(self) -> None:
        services.scim_user_delete(company=self.company, scim_user=self.obj,
                                  token=self.request.scim_token)


class ScimGroupAdapter(_CompanyResource, SCIMGroup):
    url_name = "scim:groups"

    @property
    def display_name(self) -> str:
        return self.obj.display_name

    def _members_excluded(self) -> bool:
        excluded = self.request.GET.get("excludedAttributes", "")
        return "members" in {part.strip().lower() for part in excluded.split(",")}

    def to_dict(self) -> dict:
        o = self.obj
        d: dict[str, Any] = {
            "schemas": [constants.SchemaURI.GROUP],
            "id": str(o.scim_id),
            "displayName": o.display_name,
            "meta": _meta("Group", o, self.location),
        }
        if not self._members_excluded():
            links = (ScimGroupMember.objects.for_company(self.company).filter(group=o)
                     .select_related("user").order_by("added_at", "pk"))
            d["members"] = [{"value": str(link.user.scim_id), "display": link.user.user_name,
                             "$ref": _location("scim:users", str(link.user.scim_id),
                                               self.request)} for link in links]
        if o.external_id:
            d["externalId"] = o.external_id
        return d

    def from_dict(self, d: dict) -> None:
        members = d.get("members")
        self.fields = GroupFields(
            display_name=_text(d, "displayName"), external_id=_text(d, "externalId"),
            members=patch.member_ids(members) if members is not None else [])

    def save(self) -> None:
        self.obj = services.scim_group_save(
            company=self.company, group=self.obj if self.obj.pk else None, fields=self.fields,
            token=self.request.scim_token)

    def delete(self) -> None:
        services.scim_group_delete(company=self.company, group=self.obj,
                                   token=self.request.scim_token)

    def handle_operations(self, operations: Any) -> None:
        company, group = self.company, self.obj
        name, external_id = group.display_name, group.external_id
        member_ops: list[tuple[str, list[str] | None]] = []
        for op, path, value in patch.operations_iter(operations, patch.CORE_GROUP_URN):
            if path is None:
                continue
            if path.attr == "displayname":
                if op == "remove":
                    raise ScimError("displayName cannot be removed.", scim_type="mutability")
                name = _text({"v": value}, "v")
            elif path.attr == "externalid":
                external_id = "" if op == "remove" else _text({"v": value}, "v")
            elif path.attr == "members":
                if path.filter_attr is not None:
                    if path.filter_attr != "value" or op != "remove":
                        raise ScimError("Only members[value eq \"…\"] can be removed by filter.",
                                        scim_type="invalidFilter")
                    member_ops.append(("remove", [path.filter_value or ""]))
                elif op == "remove":
                    member_ops.append(("remove", patch.member_ids(value) if value else None))
                else:
                    member_ops.append((op, patch.member_ids(value)))
        if (name, external_id) != (group.display_name, group.external_id):
            group = services.scim_group_save(
                company=company, group=group,
                fields=GroupFields(display_name=name, external_id=external_id, members=None),
                token=self.request.scim_token)
        for op, ids in member_ops:
            if op == "add":
                services.scim_group_members_add(company=company, group=group, member_ids=ids or [])
            elif op == "replace" or ids is None:
                services.scim_group_members_set(company=company, group=group,
                                                member_ids=ids or [])
            else:
                services.scim_group_members_remove(company=company, group=group, member_ids=ids)
        if member_ops:
            services.audit_group_members(company=company, group=group,
                                         token=self.request.scim_token,
                                         changes=[(op, len(ids or [])) for op, ids in member_ops])
        self.obj = ScimGroup.objects.for_company(company).get(pk=group.pk)
