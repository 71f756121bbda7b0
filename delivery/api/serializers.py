from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.inputs import MAX_BIGINT
from delivery.variants import Variant, variant_url, variant_url_maker
from generation.models import GenerationJob, Headshot
from generation.selectors import candidate_may_leave
from teams.models import Membership, Team

from .times import time_writer


class TeamRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]


class HeadshotRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    approved_at = serializers.DateTimeField()


class PersonSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    team = TeamRefSerializer(allow_null=True)
    headshot = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "job_title", "role", "status", "team",
                  "joined_at", "updated_at", "headshot"]

    @extend_schema_field(HeadshotRefSerializer(allow_null=True))
    def get_headshot(self, person: Membership) -> dict | None:
        headshot = getattr(person, "headshot", None)
        if headshot is None or not candidate_may_leave(headshot.candidate):
            return None
        return {"id": headshot.pk, "approved_at": headshot.approved_at}


class PersonRefSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    team = TeamRefSerializer(allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "team"]


class HeadshotSerializer(serializers.ModelSerializer):
    person = PersonRefSerializer(source="membership")
    width = serializers.IntegerField(source="candidate.width")
    height = serializers.IntegerField(source="candidate.height")
    url = serializers.SerializerMethodField(
        help_text="The requested variant (size, shape, format); the link expires after "
                  "API_IMAGE_URL_TTL_SECONDS.")

    class Meta:
        model = Headshot
        fields = ["id", "person", "approved_at", "width", "height", "url"]

    def get_url(self, headshot: Headshot) -> str:
        variant: Variant = self.context["variant"]
        return variant_url(headshot, variant)

    def to_representation(self, headshot: Headshot) -> dict:
        # The same fields, written out: DRF's generic walk over the nested person and team
        # serializers was most of a list row's cost (a page is 50 rows). The declared fields
        # above still describe the schema; the time is formatted by DRF's own field.
        member, candidate = headshot.membership, headshot.candidate
        team = member.team
        return {
            "id": headshot.pk,
            "person": {"id": member.pk, "email": member.user.email,
                       "full_name": member.user.full_name,
                       "team": {"id": team.pk, "name": team.name} if team else None},
            "approved_at": self.fields["approved_at"].to_representation(headshot.approved_at),
            "width": candidate.width, "height": candidate.height,
            "url": self.get_url(headshot),
        }


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)  # the column's length
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                      default="")
    team = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                    max_value=MAX_BIGINT, help_text="A team id of this company")
    job_title = serializers.CharField(max_length=120, required=False, allow_blank=True,
                                      default="")


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    person = serializers.IntegerField(source="membership_id")
    expires_at = serializers.DateTimeField()


class JobSerializer(serializers.ModelSerializer):
    person = serializers.IntegerField(source="membership_id")

    class Meta:
        model = GenerationJob
        fields = ["id", "person", "kind", "status", "backend", "backend_reason", "queued_at",
                  "started_at", "finished_at", "failure_reason", "updated_at"]


# --- List rows, read as plain values -------------------------------------------------------
# A list page is up to 200 rows, and building a model instance per row (up to five a row,
# with select_related) and walking DRF's fields for each was most of a page's cost: a page
# of 50 took twice the time of a page of 3. The list views read only these columns with
# values_list(named=True) (tuples: cheaper than values()' dicts) and write each row out
# here, with the same JSON as the serializers above, which still describe the schema and
# serve the single-object views. tests/test_api.py compares a list's rows with the detail
# view's.

# Times are read as UTC text and written by slicing (delivery/api/times.py says why): a
# `*_TIMES` field `updated_at` is the row's `updated_at_utc`.
PERSON_COLUMNS = ("id", "user__email", "user__full_name", "job_title", "role", "status",
                  "team_id", "team__name", "headshot__id", "headshot__candidate__visible",
                  "headshot__candidate__gates_passed")
PERSON_TIMES = ("joined_at", "updated_at", "headshot__approved_at")
HEADSHOT_COLUMNS = ("id", "company_id", "candidate_id", "membership_id",
                    "membership__user__email", "membership__user__full_name",
                    "membership__team_id", "membership__team__name", "candidate__width",
                    "candidate__height")
HEADSHOT_TIMES = ("approved_at",)
JOB_COLUMNS = ("id", "membership_id", "kind", "status", "backend", "backend_reason",
               "failure_reason")
JOB_TIMES = ("queued_at", "started_at", "finished_at", "updated_at")


def person_rows(rows: Iterable[Any]) -> list[dict]:
    """PersonSerializer's JSON for rows of PERSON_COLUMNS and PERSON_TIMES."""
    time = time_writer(timezone.get_current_timezone())
    as_read = time_writer(UTC)
    out = []
    for row in rows:
        team = row.team_id
        headshot = row.headshot__id
        may_leave = headshot is not None and bool(
            row.headshot__candidate__visible and row.headshot__candidate__gates_passed)
        approved = row.headshot_approved_at_utc
        out.append({
            "id": row.id, "email": row.user__email, "full_name": row.user__full_name,
            "job_title": row.job_title, "role": row.role, "status": row.status,
            "team": {"id": team, "name": row.team__name} if team is not None else None,
            "joined_at": time(row.joined_at_utc),
            "updated_at": time(row.updated_at_utc),
            # As get_headshot returns it: the time as read, which the JSON renderer writes
            # in the database's zone, UTC ("Z"); a datetime (not read as text) goes as is.
            "headshot": {"id": headshot, "approved_at": approved
                         if isinstance(approved, datetime) else as_read(approved)}
            if may_leave else None,
        })
    return out


def headshot_rows(rows: Iterable[Any], variant: Variant) -> list[dict]:
    """HeadshotSerializer's JSON for rows of HEADSHOT_COLUMNS and HEADSHOT_TIMES."""
    time = time_writer(timezone.get_current_timezone())
    url = variant_url_maker(variant)  # the signer and the path made once a page
    out = []
    for row in rows:
        team = row.membership__team_id
        out.append({
            "id": row.id,
            "person": {"id": row.membership_id, "email": row.membership__user__email,
                       "full_name": row.membership__user__full_name,
                       "team": {"id": team, "name": row.membership__team__name}
                       if team is not None else None},
            "approved_at": time(row.approved_at_utc),
            "width": row.candidate__width, "height": row.candidate__height,
            "url": url(company_id=row.company_id, headshot_id=row.id,
                       candidate_id=row.candidate_id),
        })
    return out


def job_rows(rows: Iterable[Any]) -> list[dict]:
    """JobSerializer's JSON for rows of JOB_COLUMNS and JOB_TIMES."""
    time = time_writer(timezone.get_current_timezone())
    return [{
        "id": row.id, "person": row.membership_id, "kind": row.kind,
        "status": row.status, "backend": row.backend,
        "backend_reason": row.backend_reason, "queued_at": time(row.queued_at_utc),
        "started_at": time(row.started_at_utc),
        "finished_at": time(row.finished_at_utc),
        "failure_reason": row.failure_reason, "updated_at": time(row.updated_at_utc),
    } for row in rows]
