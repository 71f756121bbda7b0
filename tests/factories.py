"""factory_boy factories, one per model (tests/test_factories.py checks that none is missing).

Objects of one company stay in one company: a factory for a tenant-owned row takes its
company from the membership, job or connection it hangs on. Rows with files get keys from
core/storage.py but no file (tests that need the bytes store them: tests/helpers.py).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import factory
from django.db import transaction
from django.utils import timezone

from billing.ledger import LEDGER_LOG, ledger_entry_hash
from billing.models import (
    CheckoutSession,
    CreditEntry,
    LedgerCheckpoint,
    LedgerHead,
    StripeCustomer,
    StripeEvent,
)
from core.anchoring import GENESIS as ANCHOR_GENESIS
from core.anchoring import anchor_advance, anchor_mac
from core.storage import candidate_keys, export_key, selfie_keys
from delivery.models import (
    ApiKey,
    DirectoryConnection,
    DirectorySync,
    WebhookDelivery,
    WebhookEndpoint,
)
from generation.models import (
    Candidate,
    ColleagueIndex,
    GenerationJob,
    Headshot,
    JobSelfie,
    Look,
    LookVersion,
    ReplicatePrediction,
    ReplicateWebhook,
    ReviewDecision,
    Selfie,
)
from identity.models import (
    AuditEvent,
    EmailDomain,
    ScimGroup,
    ScimGroupMember,
    ScimToken,
    ScimUser,
    SecuritySettings,
    SsoConnection,
)
from privacy.models import (
    ConsentCheckpoint,
    ConsentHead,
    ConsentNotice,
    ConsentRecord,
    DataSubjectRequest,
    DeletionReceipt,
    DeletionTally,
    LeaverPolicy,
    RetentionPolicy,
)
from privacy.retention import DEFAULT_POLICY, policy_as_dict
from privacy.services import CONSENT_LOG, GENESIS, record_hash
from teams.models import (
    Company,
    Invitation,
    InviteLink,
    LoginToken,
    Membership,
    MemberTally,
    Team,
    User,
)


def _hash() -> str:
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


# --- teams -------------------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password("correct-horse-battery")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    company = factory.SubFactory(CompanyFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MEMBER
    status = Membership.Status.JOINED
    joined_at = factory.LazyFunction(timezone.now)


class MemberTallyFactory(factory.django.DjangoModelFactory):
    """Written by the database's triggers in real life (one person without a team here)."""

    class Meta:
        model = MemberTally
        django_get_or_create = ("company", "team_key", "status")

    company = factory.SubFactory(CompanyFactory)
    team_key = 0
    status = Membership.Status.JOINED
    n = 1


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    membership = factory.SubFactory(MembershipFactory, status=Membership.Status.INVITED,
                                    joined_at=None)
    company = factory.SelfAttribute("membership.company")
    email = factory.SelfAttribute("membership.user.email")
    token_hash = factory.LazyFunction(_hash)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))
    sent_at = factory.LazyFunction(timezone.now)


class InviteLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InviteLink

    company = factory.SubFactory(CompanyFactory)
    token_hash = factory.LazyFunction(_hash)
    token_prefix = factory.LazyAttribute(lambda link: link.token_hash[:6])


class LoginTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoginToken

    user = factory.SubFactory(UserFactory)
    token_hash = factory.LazyFunction(_hash)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=15))


# --- generation ----------------------------------------------------------------------------


class SelfieFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Selfie

    membership = factory.SubFactory(MembershipFactory, status=Membership.Status.UPLOADED)
    company = factory.SelfAttribute("membership.company")
    image_key = factory.LazyAttribute(lambda s: selfie_keys(
        company_id=s.company.pk, membership_id=s.membership.pk)[0])
    thumb_key = factory.LazyAttribute(lambda s: s.image_key.replace(".jpg", "_thumb.jpg"))
    width, height, size_bytes = 1024, 1280, 200_000
    source_format = "JPEG"
    content_sha256 = factory.LazyFunction(_hash)
    status = Selfie.Status.ACCEPTED


class ColleagueIndexFactory(factory.django.DjangoModelFactory):
    """A company's colleague index, empty (scoring fills it from the selfies)."""

    class Meta:
        model = ColleagueIndex
        django_get_or_create = ("company",)

    company = factory.SubFactory(CompanyFactory)
    fingerprint = ""
    members = selfies = centroids = b""


class LookFactory(factory.django.DjangoModelFactory):
    """The company's look (one per company and team: an existing one is reused)."""

    class Meta:
        model = Look
        django_get_or_create = ("company", "team")

    company = factory.SubFactory(CompanyFactory)
    team = None
    name = "Company look"


class LookVersionFactory(factory.django.DjangoModelFactory):
    """An approved version by default (a look has one at a time: an existing one is reused)."""

    class Meta:
        model = LookVersion
        django_get_or_create = ("company", "look", "status")

    look = factory.SubFactory(LookFactory)
    company = factory.SelfAttribute("look.company")
    version = factory.Sequence(lambda n: n + 1)
    preset = "corporate"
    backdrop_color = "#8a9099"
    wardrobe = "a navy blazer"
    lighting = "soft studio light"
    framing = LookVersion.Framing.HEAD_AND_SHOULDERS
    aspect_ratio = LookVersion.Aspect.PORTRAIT_4_5
    prompt = "professional headshot of the person, grey backdrop, navy blazer"
    status = LookVersion.Status.APPROVED


class GenerationJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GenerationJob

    membership = factory.SubFactory(MembershipFactory, status=Membership.Status.REVIEW)
    company = factory.SelfAttribute("membership.company")
    look_version = factory.SubFactory(LookVersionFactory,
                                      look__company=factory.SelfAttribute("...company"))
    kind = GenerationJob.Kind.SINGLE_SELFIE
    backend = GenerationJob.Backend.OFFLINE
    status = GenerationJob.Status.READY
    seeds = [7]
    finished_at = factory.LazyFunction(timezone.now)


class JobSelfieFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobSelfie

    job = factory.SubFactory(GenerationJobFactory)
    company = factory.SelfAttribute("job.company")
    selfie = factory.SubFactory(SelfieFactory, membership=factory.SelfAttribute(
        "..job.membership"))


class CandidateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candidate

    job = factory.SubFactory(GenerationJobFactory)
    company = factory.SelfAttribute("job.company")
    membership = factory.SelfAttribute("job.membership")
    seed = factory.Sequence(lambda n: 1000 + n)
    source_id = "test"
    image_key = factory.LazyAttribute(lambda c: candidate_keys(
        company_id=c.company.pk, job_id=c.job.pk, seed=c.seed, output_index=0)[0])
    thumb_key = factory.LazyAttribute(lambda c: c.image_key.replace(".jpg", "_thumb.jpg"))
    width, height = 1024, 1280
    visible = True


class HeadshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Headshot

    candidate = factory.SubFactory(CandidateFactory)
    company = factory.SelfAttribute("candidate.company")
    membership = factory.SelfAttribute("candidate.membership")


class ReviewDecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewDecision

    candidate = factory.SubFactory(CandidateFactory)
    company = factory.SelfAttribute("candidate.company")
    membership = factory.SelfAttribute("candidate.membership")
    job = factory.SelfAttribute("candidate.job")
    action = ReviewDecision.Action.FAVOURITE
    actor = factory.SelfAttribute("membership.user")


class ReplicateWebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReplicateWebhook

    webhook_id = factory.Sequence(lambda n: f"msg_{n}")
    prediction_id = factory.Sequence(lambda n: f"prediction-{n}")
    status = "succeeded"


class ReplicatePredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReplicatePrediction

    job = factory.SubFactory(GenerationJobFactory, backend=GenerationJob.Backend.REPLICATE,
                             status=GenerationJob.Status.RUNNING, finished_at=None)
    company = factory.SelfAttribute("job.company")
    seed = 7
    prediction_id = factory.Sequence(lambda n: f"prediction-{n}")
    model = "black-forest-labs/flux-kontext-pro"


# --- billing -------------------------------------------------------------------------------


class CreditEntryFactory(factory.django.DjangoModelFactory):
    """A line appended to its company's ledger, its signed head moved (billing.ledger)."""

    class Meta:
        model = CreditEntry

    company = factory.SubFactory(CompanyFactory)
    kind = CreditEntry.Kind.ADJUSTMENT
    amount = 10
    reason = "test credits"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with transaction.atomic():
            entry = super()._create(model_class, *args, **kwargs)
            head = LedgerHead.objects.for_company(entry.company_id).first()
            anchor_advance(LedgerHead, log_name=LEDGER_LOG, company_id=entry.company_id,
                           head=head, head_hash=ledger_entry_hash(
                               head.head_hash if head else ANCHOR_GENESIS, entry))
        return entry


def _anchor_factories(head_model, checkpoint_model, log_name: str) -> tuple[type, type]:
    """A log's signed head and a signed checkpoint of it (core/anchoring.py), both before
    its first entry."""

    def signed(kind: str) -> factory.LazyAttribute:
        return factory.LazyAttribute(lambda row: anchor_mac(
            log_name=log_name, kind=kind, company_id=row.company.pk, entries=row.entries,
            head_hash=row.head_hash))

    class HeadFactory(factory.django.DjangoModelFactory):
        class Meta:
            model = head_model
            django_get_or_create = ("company",)

        company = factory.SubFactory(CompanyFactory)
        entries = 0
        head_hash = ANCHOR_GENESIS
        mac = signed("head")

    class CheckpointFactory(factory.django.DjangoModelFactory):
        class Meta:
            model = checkpoint_model

        company = factory.SubFactory(CompanyFactory)
        entries = 0
        head_hash = ANCHOR_GENESIS
        mac = signed("checkpoint")

    return HeadFactory, CheckpointFactory


LedgerHeadFactory, LedgerCheckpointFactory = _anchor_factories(LedgerHead, LedgerCheckpoint,
                                                               LEDGER_LOG)


class StripeCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StripeCustomer
        django_get_or_create = ("company",)

    company = factory.SubFactory(CompanyFactory)
    customer_id = factory.Sequence(lambda n: f"cus_test{n}")


class CheckoutSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckoutSession

    company = factory.SubFactory(CompanyFactory)
    session_id = factory.Sequence(lambda n: f"cs_test_{n}")
    credits = 10
    amount_cents = 9900
    currency = "usd"


class StripeEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StripeEvent

    event_id = factory.Sequence(lambda n: f"evt_test{n}")
    type = "checkout.session.completed"
    payload = factory.LazyAttribute(lambda e: {"id": e.event_id, "type": e.type})


# --- privacy -------------------------------------------------------------------------------


class ConsentNoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentNotice

    company = factory.SubFactory(CompanyFactory)
    version = factory.Sequence(lambda n: n + 1)
    body = "We make your headshots from your selfies and keep them as the schedule says."
    text = factory.SelfAttribute("body")
    sha256 = factory.LazyAttribute(lambda n: hashlib.sha256(n.text.encode()).hexdigest())


class ConsentRecordFactory(factory.django.DjangoModelFactory):
    """A record appended to its company's chain (it verifies: privacy.services)."""

    class Meta:
        model = ConsentRecord

    notice = factory.SubFactory(ConsentNoticeFactory)
    company = factory.SelfAttribute("notice.company")
    subject_user_id = factory.Sequence(lambda n: 10_000 + n)
    subject_email = factory.Sequence(lambda n: f"subject{n}@example.com")
    signed_name = "Sam Subject"
    event = ConsentRecord.Event.GRANTED
    notice_version = factory.SelfAttribute("notice.version")
    notice_sha256 = factory.SelfAttribute("notice.sha256")
    method = ConsentRecord.Method.WEB_FORM

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        record = model_class(*args, **kwargs)
        last = (ConsentRecord.objects.for_company(record.company_id).order_by("-pk")
                .values_list("hash", flat=True).first())
        record.prev_hash = last or GENESIS
        record.hash = record_hash(record)
        with transaction.atomic():
            record.save(force_insert=True)
            anchor_advance(ConsentHead, log_name=CONSENT_LOG, company_id=record.company_id,
                           head_hash=record.hash)
        return record


ConsentHeadFactory, ConsentCheckpointFactory = _anchor_factories(ConsentHead, ConsentCheckpoint,
                                                                 CONSENT_LOG)


class LeaverPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeaverPolicy
        django_get_or_create = ("company",)

    company = factory.SubFactory(CompanyFactory)
    headshots = LeaverPolicy.Headshots.KEEP


class DeletionTallyFactory(factory.django.DjangoModelFactory):
    """Written by the database's triggers in real life (one receipt counted here)."""

    class Meta:
        model = DeletionTally
        django_get_or_create = ("company", "day", "kind")

    company = factory.SubFactory(CompanyFactory)
    day = factory.LazyFunction(lambda: timezone.now().date())
    kind = "selfie"
    n = 1


class RetentionPolicyFactory(factory.django.DjangoModelFactory):
    """The defaults, and whatever hours a test gives."""

    class Meta:
        model = RetentionPolicy
        django_get_or_create = ("company",)

    company = factory.SubFactory(CompanyFactory)

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        return {**policy_as_dict(DEFAULT_POLICY), **kwargs}


class DeletionReceiptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeletionReceipt

    company = factory.SubFactory(CompanyFactory)
    kind = "selfie"
    object_ref = factory.Sequence(lambda n: f"selfie:{n}")
    rule = "retention.selfies.max_age"


class DataSubjectRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataSubjectRequest
        exclude = ("membership",)  # where the subject and the company come from

    membership = factory.SubFactory(MembershipFactory)
    company = factory.SelfAttribute("membership.company")
    kind = DataSubjectRequest.Kind.EXPORT
    status = DataSubjectRequest.Status.COMPLETED
    subject_user_id = factory.SelfAttribute("membership.user_id")
    subject_email = factory.SelfAttribute("membership.user.email")
    membership_ref = factory.SelfAttribute("membership.pk")
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    completed_at = factory.LazyFunction(timezone.now)
    export_key = factory.LazyAttribute(lambda r: export_key(
        company_id=r.company.pk, membership_id=r.membership.pk))
    export_expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


# --- delivery -------------------------------------------------------------------------------


class ApiKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiKey

    company = factory.SubFactory(CompanyFactory)
    name = "directory sync"
    prefix = factory.Sequence(lambda n: f"lk_{n:08d}")
    key_hash = factory.LazyFunction(_hash)


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    company = factory.SubFactory(CompanyFactory)
    url = "https://hooks.example.com/likeness"
    events = ["job.ready"]
    secret = factory.LazyFunction(lambda: "whsec_" + secrets.token_urlsafe(32))


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    company = factory.SelfAttribute("endpoint.company")
    event_id = factory.Sequence(lambda n: f"evt_{n:024d}")
    event_type = "job.ready"
    payload = factory.LazyAttribute(lambda d: {"id": d.event_id, "type": d.event_type,
                                               "data": {}})


class DirectoryConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryConnection

    company = factory.SubFactory(CompanyFactory)
    provider = DirectoryConnection.Provider.SLACK
    config = factory.LazyFunction(lambda: {"scim_token": "xoxp-test"})


class DirectorySyncFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectorySync

    membership = factory.SubFactory(MembershipFactory, status=Membership.Status.APPROVED)
    company = factory.SelfAttribute("membership.company")
    connection = factory.SubFactory(DirectoryConnectionFactory,
                                    company=factory.SelfAttribute("..company"))


# --- identity ------------------------------------------------------------------------------


class SecuritySettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SecuritySettings
        django_get_or_create = ("company",)

    company = factory.SubFactory(CompanyFactory)
    require_admin_2fa = True


class EmailDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailDomain

    company = factory.SubFactory(CompanyFactory)
    domain = factory.Sequence(lambda n: f"company{n}.example")
    token = factory.LazyFunction(_hash)


class SsoConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SsoConnection
        django_get_or_create = ("company",)

    company = factory.SubFactory(CompanyFactory)
    protocol = SsoConnection.Protocol.OIDC
    oidc_issuer = "https://idp.example/"
    oidc_client_id = "likeness"


class ScimTokenFactory(factory.django.DjangoModelFactory):
    """A provisioning token; only its hash is stored."""

    class Meta:
        model = ScimToken

    company = factory.SubFactory(CompanyFactory)
    name = "Directory"
    prefix = factory.Sequence(lambda n: f"scim_{n:06d}")
    token_hash = factory.LazyFunction(_hash)


class ScimUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScimUser
        exclude = ("person",)  # where the company comes from

    person = factory.SubFactory(MembershipFactory)
    company = factory.SelfAttribute("person.company")
    membership = factory.SelfAttribute("person")
    user_name = factory.SelfAttribute("person.user.email")
    email = factory.SelfAttribute("person.user.email")


class ScimGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScimGroup
        exclude = ("group_team",)

    group_team = factory.SubFactory(TeamFactory)
    company = factory.SelfAttribute("group_team.company")
    team = factory.SelfAttribute("group_team")
    display_name = factory.SelfAttribute("group_team.name")


class ScimGroupMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScimGroupMember

    group = factory.SubFactory(ScimGroupFactory)
    company = factory.SelfAttribute("group.company")
    user = factory.SubFactory(ScimUserFactory, person__company=factory.SelfAttribute(
        "...company"))


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    company = factory.SubFactory(CompanyFactory)
    action = "people.member_removed"
    actor_label = "owner@example.com"
    target = "person@example.com"
