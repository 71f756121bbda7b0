"""SCIM filters (RFC 7644 §3.4.2.2) to Django queries.

scim2-filter-parser parses the filter; its Django Q transpiler (not django-scim2's raw SQL,
which would bypass the tenant wall) turns it into a Q object that is applied to a queryset
already scoped to the token's company. Attribute names match case-insensitively, as the RFC
says; a filter on an attribute we do not keep is a 400 invalidFilter.
"""

from __future__ import annotations

from django.db.models import Q
from django_scim.filters import FilterQuery
from scim2_filter_parser.transpilers.django_q_object import get_query

from ..models import ScimGroup, ScimUser

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


class InvalidFilter(ValueError):
    pass


class UserFilterQuery(FilterQuery):
    model_getter = staticmethod(lambda: ScimUser)
    attr_map = {
        ("id", None, None): "scim_id",
        ("userName", None, None): "user_name",
        ("externalId", None, None): "external_id",
        ("displayName", None, None): "display_name",
        ("name", "givenName", None): "given_name",
        ("name", "familyName", None): "family_name",
        ("emails", None, None): "email",
        ("emails", "value", None): "email",
        ("title", None, None): "title",
        ("active", None, None): "active",
        ("userName", None, USER_URN): "user_name",
        ("externalId", None, USER_URN): "external_id",
        ("emails", "value", USER_URN): "email",
    }


class GroupFilterQuery(FilterQuery):
    model_getter = staticmethod(lambda: ScimGroup)
    attr_map = {
        ("id", None, None): "scim_id",
        ("displayName", None, None): "display_name",
        ("externalId", None, None): "external_id",
        ("members", None, None): "links__user__scim_id",
        ("members", "value", None): "links__user__scim_id",
        ("displayName", None, GROUP_URN): "display_name",
    }


def filter_q(query: str, attr_map: dict) -> Q:
    if len(query) > 1000:
        raise InvalidFilter("The filter is too long.")
    try:
        q = get_query(query, attr_map)
    except Exception as exc:  # the lexer and parser raise several kinds; all are bad input
        raise InvalidFilter(f"The filter could not be parsed: {query!r}.") from exc
    if q is None:
        raise InvalidFilter("The filter names an attribute that cannot be filtered on.")
    return q
