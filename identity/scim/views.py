"""SCIM 2.0 endpoints at /scim/v2/: django-scim2's views, with

- our token authentication (a company per token) instead of a Django user;
- every query scoped to that company through the tenant wall (filters as Django queries);
- RFC 7644 paging rules (startIndex below 1 is 1, a negative count is 0, a cap on count);
- every client error answered in the SCIM error format with its status, never a 500.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import FieldError, ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from django_scim import constants, exceptions
from django_scim import views as scim_views
from django_scim.models import SCIMServiceProviderConfig

from core.errors import ServiceError
from core.rls import company_scope

from ..models import ScimGroup, ScimUser
from .auth import token_authenticate
from .filters import GroupFilterQuery, InvalidFilter, UserFilterQuery, filter_q
from .services import ScimError

log = logging.getLogger(__name__)


def scim_error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    body = {"schemas": [constants.SchemaURI.ERROR], "detail": detail, "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    return HttpResponse(json.dumps(body), status=status,
                        content_type=constants.SCIM_CONTENT_TYPE)


class ServiceProviderConfig(SCIMServiceProviderConfig):
    def to_dict(self) -> dict:
        d = super().to_dict()
        d["filter"] = {"supported": True, "maxResults": settings.SCIM_PAGE_SIZE_MAX}
        d["changePassword"] = {"supported": False}
        d["bulk"] = {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}
        return d


class ScimViewMixin:
    attr_map: dict = {}

    @method_decorator(csrf_exempt)  # bearer tokens, no cookies: nothing to forge
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        token = token_authenticate(request.META.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            response = scim_error(401, "A valid provisioning token is required.")
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
            return response
        request.scim_company = token.company
        request.scim_token = token
        if not self.implemented:
            return scim_error(501, "Not implemented.")
        try:
            with company_scope(token.company_id):  # the database's wall (core/rls.py)
                return View.dispatch(self, request, *args, **kwargs)
        except exceptions.SCIMException as error:
            return scim_error(error.status, error.detail, error.scim_type)
        except ScimError as error:
            return scim_error(error.status, str(error), error.scim_type)
        except InvalidFilter as error:
            return scim_error(400, str(error), "invalidFilter")
        except ServiceError as error:
            return scim_error(400, str(error), "invalidValue")
        except (ValidationError, FieldError) as error:
            return scim_error(400, f"Invalid value: {error}", "invalidValue")

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return scim_error(405, f"{request.method} is not allowed here.")

    def load_body(self, body: bytes) -> dict:
        try:
            data = json.loads(body.decode(constants.ENCODING).strip() or "{}")
        except (UnicodeDecodeError, ValueError) as exc:
            raise ScimError("The body is not valid JSON.", scim_type="invalidSyntax") from exc
        if not isinstance(data, dict):
            raise ScimError("The body must be a JSON object.", scim_type="invalidSyntax")
        return data

    def get_object(self):
        uuid = self.kwargs.get(self.lookup_url_kwarg, "")
        qs = self.model_cls.objects.for_company(self.request.scim_company)
        try:
            obj = qs.filter(scim_id=uuid).first()
        except ValidationError:
            obj = None  # not a UUID: no such resource either
        if obj is None:
            raise exceptions.NotFoundError(uuid)
        return obj

    def _page(self, request: HttpRequest) -> tuple[int, int]:
        try:
            start = int(request.GET.get("startIndex", 1))
            count = int(request.GET.get("count", settings.SCIM_PAGE_SIZE_MAX))
        except ValueError as exc:
            raise ScimError("startIndex and count must be integers.",
                            scim_type="invalidValue") from exc
        return max(start, 1), min(max(count, 0), settings.SCIM_PAGE_SIZE_MAX)

    def _scoped(self, request: HttpRequest):
        return (self.model_cls.objects.for_company(request.scim_company)
                .order_by("created_at", "pk"))

    def _search(self, request: HttpRequest, query: str, start: int, count: int) -> HttpResponse:
        qs = self._scoped(request).filter(filter_q(query, self.attr_map)).distinct()
        return self._build_response(request, qs, start, count)

    def get_many(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("filter")
        if query:
            return self._search(request, query, *self._page(request))
        return self._build_response(request, self._scoped(request), *self._page(request))

    def _build_response(self, request: HttpRequest, qs, start: int, count: int) -> HttpResponse:
        total = qs.count()
        page = list(qs[start - 1:start - 1 + count]) if count else []
        resources = [self.scim_adapter(obj, request=request).to_dict() for obj in page]
        return HttpResponse(json.dumps({
            "schemas": [constants.SchemaURI.LIST_RESPONSE], "totalResults": total,
            "itemsPerPage": len(resources), "startIndex": start, "Resources": resources,
        }), content_type=constants.SCIM_CONTENT_TYPE)


class UsersView(ScimViewMixin, scim_views.UsersView):
    attr_map = UserFilterQuery.attr_map


class GroupsView(ScimViewMixin, scim_views.GroupsView):
    attr_map = GroupFilterQuery.attr_map


class UserSearchView(ScimViewMixin, scim_views.UserSearchView):
    attr_map = UserFilterQuery.attr_map
    model_cls = ScimUser


class GroupSearchView(ScimViewMixin, scim_views.GroupSearchView):
    attr_map = GroupFilterQuery.attr_map
    model_cls = ScimGroup


class ServiceProviderConfigView(ScimViewMixin, scim_views.ServiceProviderConfigView):
    pass


class ResourceTypesView(ScimViewMixin, scim_views.ResourceTypesView):
    pass


class SchemasView(ScimViewMixin, scim_views.SchemasView):
    pass


class RootView(ScimViewMixin, scim_views.SCIMView):
    pass
