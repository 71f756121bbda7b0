"""Helpers that let a test prove a denied request changed nothing."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.apps import apps
from django.core import mail
from django.db import connection

from core.tenancy import TenantModel

Item = TypeVar("Item")

_OUR_APPS = ("teams", "generation", "billing", "privacy", "identity", "delivery")
# The audit log records admin actions, including saves that changed nothing; tests of the
# audit log check it themselves (denied requests never write to it).
_NOT_STATE = frozenset({"identity.AuditEvent"})


def db_fingerprint() -> dict[str, list[tuple]]:
    """Every row of every model of ours (and sessions excluded), for before/after comparisons."""
    state: dict[str, list[tuple]] = {}
    for model in apps.get_models():
        if model._meta.app_label not in _OUR_APPS or model._meta.label in _NOT_STATE:
            continue
        qs = model._base_manager.all()
        state[model._meta.label] = sorted(
            tuple(sorted((k, repr(v)) for k, v in row.items())) for row in qs.values()
        )
    return state


def tenant_models() -> list[type[TenantModel]]:
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def mailed_links(pattern: str) -> list[str]:
    """Links matching ``pattern`` in every e-mail sent so far."""
    found: list[str] = []
    for message in mail.outbox:
        found += re.findall(pattern, message.body)
    return found


def token_from(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def image_bytes(size: tuple[int, int] = (400, 400), fmt: str = "JPEG", color=(120, 140, 160),
                **save_kwargs) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


def consent_for(membership) -> None:
    """Give ``membership`` a valid consent record, as signing online would."""
    from privacy.services import RequestInfo, consent_grant, notice_current

    notice = notice_current(company=membership.company)
    consent_grant(company=membership.company, membership=membership, notice=notice,
                  signed_name=membership.user.full_name or "Test Person", agreed=True,
                  request_info=RequestInfo(ip_address="127.0.0.1", user_agent="pytest"))


def selfie_for(membership, data: bytes | None = None):
    """Store a selfie for ``membership`` (consenting first if needed)."""
    from generation.services import selfie_upload
    from privacy.services import consent_is_granted

    if not consent_is_granted(company=membership.company, user=membership.user):
        consent_for(membership)
    return selfie_upload(company=membership.company, actor=membership, membership=membership,
                         data=data or image_bytes())


def approved_look(company, *, preset: str = "corporate", team=None):
    """An approved look version for ``company`` (or one of its teams)."""
    from generation.services.looks import look_version_approve, look_version_create
    from teams.models import Membership

    owner = Membership.objects.for_company(company).get(role=Membership.Role.OWNER)
    version = look_version_create(company=company, actor=owner, team=team, preset=preset)
    return look_version_approve(company=company, actor=owner, version=version,
                                require_preview=False)


def person_at(tenant, name: str, *, status: str, selfies: int = 4, consent: bool = True):
    """A member of ``tenant``'s team who has reached ``status``, with ``selfies`` selfies
    (and consent, unless ``consent`` is false)."""
    from teams.models import Membership

    from .factories import MembershipFactory, SelfieFactory, UserFactory

    member = MembershipFactory(company=tenant.company, team=tenant.team, role="member",
                               user=UserFactory(full_name=name), status=status)
    if consent:
        consent_for(member)
    for _ in range(selfies):
        SelfieFactory(membership=member, company=tenant.company)
    # Consent and selfies move the status on; set it back to the one asked for.
    Membership.objects.for_company(tenant.company).filter(pk=member.pk).update(status=status)
    member.refresh_from_db()
    return member


def headshot_approved_in(member, version) -> None:
    """A headshot ``member`` approved, from a job in look ``version``."""
    from .factories import CandidateFactory, GenerationJobFactory, HeadshotFactory

    job = GenerationJobFactory(membership=member, company=member.company, look_version=version)
    HeadshotFactory(candidate=CandidateFactory(job=job, gates_passed=True))


def candidate_for(membership, *, visible: bool = True, seed: int = 7):
    """A finished job with one stored candidate for ``membership``, made without a backend."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from generation.models import Candidate, GenerationJob, LookVersion

    company = membership.company
    version = (LookVersion.objects.for_company(company).filter(status="approved").first()
               or approved_look(company))
    job = GenerationJob.objects.create(
        company=company, membership=membership, kind=GenerationJob.Kind.SINGLE_SELFIE,
        look_version=version, backend=GenerationJob.Backend.OFFLINE,
        status=GenerationJob.Status.READY, seeds=[seed])
    data = image_bytes((512, 640))
    key = default_storage.save(f"candidates/c{company.pk}/j{job.pk}/x.jpg", ContentFile(data))
    return Candidate.objects.create(
        company=company, job=job, membership=membership, seed=seed, source_id="test",
        image_key=key, thumb_key=key, width=512, height=640, visible=visible,
        # As scoring leaves a shown candidate: every exit requires both.
        gates_passed=visible, scored_at=timezone.now() if visible else None)


def at_once(work: Callable[[Item], object], items: Sequence[Item], *,
            timeout: float = 30) -> None:
    """Call ``work(item)`` for every item, each in its own thread, all released together
    by a barrier: the race a test wants to lose nothing in. Each thread closes its own
    database connection; ``work`` records its outcome (an exception in it is not raised
    here)."""
    barrier = threading.Barrier(len(items))

    def run(item: Item) -> None:
        try:
            barrier.wait(timeout=10)
            work(item)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
