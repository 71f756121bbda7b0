from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.inputs import MAX_BIGINT
from delivery.variants import Variant, variant_url
from generation.models import GenerationJob, Headshot
from generation.selectors import candidate_may_leave
from teams.models import Membership, Team


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
