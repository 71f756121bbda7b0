"""REST API v1. Views parse input, and call selectors and services; the base class does
the tenant, scope and throttling."""

from __future__ import annotations

from datetime import UTC

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.errors import ServiceError
from core.inputs import MAX_BIGINT, InputInvalid, int_bounded
from delivery.variants import FORMATS, SHAPES, SIZES, Variant, variant_render, variant_resolve
from generation.models import GenerationJob, Headshot
from generation.selectors import headshots_that_may_leave, headshots_that_may_leave_in_order
from teams.models import Membership, Team
from teams.services.invitations import invitation_create

from .base import CompanyScopedMixin, UpdatedCursor, ValuesListMixin
from .serializers import (
    HEADSHOT_COLUMNS,
    HEADSHOT_TIMES,
    JOB_COLUMNS,
    JOB_TIMES,
    PERSON_COLUMNS,
    PERSON_TIMES,
    HeadshotSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    JobSerializer,
    PersonSerializer,
    headshot_rows,
    job_rows,
    person_rows,
)

TEAM = OpenApiParameter("team", int, description="Only this team's people")
UPDATED_SINCE = OpenApiParameter("updated_since", OpenApiTypes.DATETIME,
                                 description="Only what changed at or after this time")
VARIANT = [
    OpenApiParameter("size", int, enum=list(SIZES), default=1024),
    OpenApiParameter("shape", str, enum=list(SHAPES), default="look",
                     description="square, or the look's aspect ratio"),
    # Not "format": DRF reserves that query parameter for choosing a renderer.
    OpenApiParameter("image_format", str, enum=list(FORMATS), default="jpeg"),
]


def _int_param(request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        # Ids are 64-bit: a bigger number would reach the database as an error.
        return int_bounded(value, minimum=0)
    except InputInvalid:
        raise ValidationError({name: f"Must be a whole number from 0 to {MAX_BIGINT}."}) from None


def _status_param(request, values: list[str], *, refusal: str) -> str | None:
    """The ``status`` asked for, one of ``values``; none (no filter) when empty."""
    state = request.query_params.get("status")
    if state and state not in values:
        raise ValidationError({"status": refusal})
    return state or None


def _filtered(queryset, **lookups):
    """``queryset`` narrowed by the lookups whose value the request gave (not None)."""
    return queryset.filter(**{lookup: value for lookup, value in lookups.items()
                              if value is not None})


def _since_param(request):
    value = request.query_params.get("updated_since")
    if value in (None, ""):
        return None
    message = ("Use an ISO 8601 time with a time zone, e.g. 2026-01-31T09:00:00Z.")
    try:
        parsed = parse_datetime(value)
        if parsed is None or parsed.tzinfo is None:
            raise ValidationError({"updated_since": message})
        # In UTC: the database takes offsets only up to ±15:59.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError({"updated_since": message}) from None


def _variant(request) -> Variant:
    try:
        return Variant(size=_int_param(request, "size") or 1024,
                       shape=request.query_params.get("shape") or "look",
                       format=request.query_params.get("image_format") or "jpeg")
    except ValueError as error:
        raise ValidationError({"variant": str(error)}) from None


def _people(company):
    return (Membership.objects.for_company(company)
            .select_related("user", "team", "headshot__candidate"))


@extend_schema_view(get=extend_schema(parameters=[TEAM, UPDATED_SINCE, OpenApiParameter(
    "status", str, enum=list(Membership.Status.values))]))
class PeopleList(ValuesListMixin, CompanyScopedMixin, generics.ListAPIView):
    """People of the company, oldest change first."""

    model = Membership
    serializer_class = PersonSerializer
    list_columns = PERSON_COLUMNS
    list_times = PERSON_TIMES

    def list_rows(self, rows: list) -> list[dict]:
        return person_rows(rows)

    def scoped_queryset(self, company):
        return _filtered(
            _people(company), team_id=_int_param(self.request, "team"),
            status=_status_param(self.request, Membership.Status.values,
                                 refusal=f"One of {', '.join(Membership.Status.values)}."),
            updated_at__gte=_since_param(self.request))


class PersonDetail(CompanyScopedMixin, generics.RetrieveAPIView):
    model = Membership
    serializer_class = PersonSerializer

    def scoped_queryset(self, company):
        return _people(company)


class HeadshotCursor(UpdatedCursor):
    ordering = ("approved_at", "pk")


@extend_schema_view(get=extend_schema(parameters=[TEAM, UPDATED_SINCE, *VARIANT]))
class HeadshotList(ValuesListMixin, CompanyScopedMixin, generics.ListAPIView):
    """Approved headshots, each with a short-lived link to the variant asked for."""

    model = Headshot
    serializer_class = HeadshotSerializer
    pagination_class = HeadshotCursor
    # Only what a row shows: the columns of five tables, never the user's password hash or
    # the candidate's scores.
    list_columns = HEADSHOT_COLUMNS
    list_times = HEADSHOT_TIMES

    def list_rows(self, rows: list) -> list[dict]:
        return headshot_rows(rows, _variant(self.request))

    def scoped_queryset(self, company):
        return _filtered(headshots_that_may_leave_in_order(company=company),
                         membership__team_id=_int_param(self.request, "team"),
                         approved_at__gte=_since_param(self.request))


@extend_schema_view(get=extend_schema(parameters=VARIANT))
class HeadshotDetail(CompanyScopedMixin, generics.RetrieveAPIView):
    model = Headshot
    serializer_class = HeadshotSerializer

    def scoped_queryset(self, company):
        return headshots_that_may_leave(company=company).select_related(
            "candidate", "membership__user", "membership__team")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "variant": _variant(self.request)}


class InvitationCreate(CompanyScopedMixin, generics.GenericAPIView):
    """Invite someone by e-mail (needs a write key). The invitation e-mail is sent."""

    model = Membership
    serializer_class = InvitationCreateSerializer

    @extend_schema(request=InvitationCreateSerializer,
                   responses={201: InvitationSerializer})
    def post(self, request):
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        company = request.company
        team = None
        if data.validated_data["team"] is not None:
            team = Team.objects.for_company(company).filter(pk=data.validated_data["team"]).first()
            if team is None:
                raise ValidationError({"team": "No such team in this company."})
        try:
            invitation = invitation_create(
                company=company, email=data.validated_data["email"], created_by=None,
                full_name=data.validated_data["full_name"], team=team,
                job_title=data.validated_data["job_title"])
        except ServiceError as error:
            raise ValidationError({"detail": str(error)}) from None
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(parameters=[
    OpenApiParameter("person", int),
    OpenApiParameter("status", str, enum=list(GenerationJob.Status.values))]))
class JobList(ValuesListMixin, CompanyScopedMixin, generics.ListAPIView):
    model = GenerationJob
    serializer_class = JobSerializer
    list_columns = JOB_COLUMNS
    list_times = JOB_TIMES

    def list_rows(self, rows: list) -> list[dict]:
        return job_rows(rows)

    def scoped_queryset(self, company):
        return _filtered(
            GenerationJob.objects.for_company(company),
            membership_id=_int_param(self.request, "person"),
            status=_status_param(self.request, GenerationJob.Status.values,
                                 refusal="Unknown job status."))


class JobDetail(CompanyScopedMixin, generics.RetrieveAPIView):
    model = GenerationJob
    serializer_class = JobSerializer


@require_GET
def headshot_variant(request: HttpRequest, token: str) -> HttpResponse:
    """The image behind a signed variant URL (no session or key: the signature is it)."""
    resolved = variant_resolve(token)
    if resolved is None:
        raise Http404("This link is invalid or has expired.")
    candidate, variant = resolved
    try:
        image = variant_render(candidate, variant)
    except OSError:  # the file went with an erasure after the link was made
        raise Http404("This link is invalid or has expired.") from None
    response = HttpResponse(image, content_type=variant.content_type)
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Disposition"] = f'inline; filename="headshot-{candidate.pk}.{variant.extension}"'
    return response


