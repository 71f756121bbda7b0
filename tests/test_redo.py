"""A redo that means something: fresh seeds, the person's comment carried to the backend,
spent only when new photos arrive, given back when it fails, after a batch too."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from generation.backends import offline
from generation.backends.offline_redo import redo_adjustments, redo_apply
from generation.looks import look_spec_example, prompt_with_instructions
from generation.models import Candidate, GenerationJob, ReviewDecision
from generation.services.review import redos_used
from teams.models import Membership

from .faces import face_bytes, face_photos
from .helpers import approved_look, db_fingerprint, selfie_for

Status = GenerationJob.Status


def _url(name: str, company) -> str:
    return reverse(f"generation:{name}", kwargs={"company_slug": company.slug})


# --- What the backends get of the comment ----------------------------------------------


def test_the_comment_joins_the_prompt_generative_backends_get():
    prompt = look_spec_example().prompt
    assert prompt_with_instructions(prompt, "") == prompt
    changed = prompt_with_instructions(prompt, "  less   shiny forehead. ")
    assert changed.startswith(prompt) and changed.endswith("less shiny forehead")


def test_the_offline_retouch_reads_what_it_can_honour_of_a_comment():
    assert redo_adjustments("Brighter and warmer please").understood == ("brighter", "warmer")
    assert redo_adjustments("a tighter crop").zoom > 1.0
    nothing = redo_adjustments("a different tie")
    assert not nothing.any and nothing.understood == ()


def test_brighter_and_warmer_change_the_person_not_the_backdrop():
    image = Image.new("RGB", (100, 100), (120, 110, 100))
    matte = np.zeros((100, 100), dtype=np.float32)
    matte[30:70, 30:70] = 1.0
    out = np.asarray(redo_apply(image, matte=matte, face_box=(30, 30, 70, 70),
                                adjust=redo_adjustments("brighter, warmer")), dtype=float)
    person, backdrop = out[50, 50], out[5, 5]
    assert person.mean() > 115 and person[0] / person[2] > 120 / 100
    assert tuple(backdrop) == (120, 110, 100)


def test_a_tighter_crop_makes_the_face_larger_about_its_centre():
    image = Image.new("RGB", (200, 200), (200, 200, 200))
    image.paste((20, 20, 20), (80, 80, 120, 120))
    out = np.asarray(redo_apply(image, matte=np.zeros((200, 200), np.float32),
                                face_box=(80, 80, 120, 120),
                                adjust=redo_adjustments("tighter crop")))
    dark = np.argwhere(out[..., 0] < 100)
    assert dark[:, 0].max() - dark[:, 0].min() + 1 > 40
    assert abs(dark[:, 1].mean() - 100) < 1.5


# --- Through the pages, on the embedded default ------------------------------------------


@pytest.fixture
def ready_member(tenant_a, settings):
    settings.SEEDS_PER_JOB = {**settings.SEEDS_PER_JOB, "offline": 2}
    settings.REPLICATE_API_TOKEN = ""  # the embedded default: the offline backend
    approved_look(tenant_a.company)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    return tenant_a.member


def _bytes(job) -> set[bytes]:
    found = set()
    for key in Candidate.objects.for_company(job.company_id).filter(job=job).values_list(
            "image_key", flat=True):
        with default_storage.open(key, "rb") as handle:
            found.add(handle.read())
    return found


def _latest(member) -> GenerationJob:
    return GenerationJob.objects.for_company(member.company_id).filter(
        membership=member).latest("queued_at", "pk")


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_redo_makes_new_photos_on_new_seeds_following_the_comment(tenant_a, ready_member):
    company = tenant_a.company
    employee = tenant_a.client_for(ready_member)
    employee.post(_url("headshots_start", company))
    first = _latest(ready_member)
    assert first.status == Status.READY

    response = employee.post(_url("headshots_redo", company), {"reason": "Brighter please"},
                             follow=True)
    assert "makes them brighter" in response.content.decode()
    redo = _latest(ready_member)
    assert redo.pk != first.pk and redo.status == Status.READY
    assert (redo.redo_of_id, redo.instructions) == (first.pk, "Brighter please")
    assert not set(redo.seeds) & set(first.seeds)
    made, before = _bytes(redo), _bytes(first)
    assert made and before and not made & before  # never the same bytes as before
    assert redos_used(company=company, membership=ready_member) == 1

    # A second redo with the same words: fresh seeds again, different bytes again.
    company.redo_limit = 2
    company.save(update_fields=["redo_limit"])
    employee.post(_url("headshots_redo", company), {"reason": "Brighter please"})
    again = _latest(ready_member)
    assert again.status == Status.READY and again.redo_of_id == redo.pk
    assert not set(again.seeds) & (set(first.seeds) | set(redo.seeds))
    assert not _bytes(again) & (made | before)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_failed_redo_is_given_back_and_the_earlier_photos_stay(tenant_a, ready_member,
                                                                 monkeypatch):
    company = tenant_a.company
    company.redo_limit = 1
    company.save(update_fields=["redo_limit"])
    employee = tenant_a.client_for(ready_member)
    employee.post(_url("headshots_start", company))
    first = _latest(ready_member)

    def no_face(*args, **kwargs):
        raise offline.NoFaceForRetouch("no face")

    monkeypatch.setattr(offline, "studio_retouch", no_face)
    employee.post(_url("headshots_redo", company), {"reason": "warmer"})
    failed = _latest(ready_member)
    assert failed.redo_of_id == first.pk and failed.status == Status.FAILED
    assert redos_used(company=company, membership=ready_member) == 0
    ready_member.refresh_from_db()
    assert ready_member.status == Membership.Status.REVIEW
    page = employee.get(_url("headshots", company)).content.decode()
    assert "This redo was not counted" in page
    shown = Candidate.objects.for_company(company).filter(job=first, visible=True).first()
    assert f"/candidates/{shown.pk}/thumb/" in page

    monkeypatch.undo()
    employee.post(_url("headshots_redo", company), {"reason": "warmer"})
    redo = _latest(ready_member)
    assert redo.status == Status.READY and redo.redo_of_id == first.pk
    assert redos_used(company=company, membership=ready_member) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_redo_is_allowed_after_a_consistent_batch(tenant_a, ready_member):
    for photo in face_photos()[1:]:  # distinct photos of the same person
        selfie_for(ready_member, data=photo)
    admin = tenant_a.client_for(tenant_a.admin)
    admin.post(_url("generate_for_team", tenant_a.company),
               {"team": tenant_a.team.pk, "kind": "consistent_batch"})
    batch = _latest(ready_member)
    assert (batch.kind, batch.status) == (GenerationJob.Kind.CONSISTENT_BATCH, Status.READY)
    employee = tenant_a.client_for(ready_member)
    employee.post(_url("headshots_redo", tenant_a.company), {"reason": "cooler"})
    redo = _latest(ready_member)
    assert (redo.kind, redo.redo_of_id, redo.status) == (
        GenerationJob.Kind.CONSISTENT_BATCH, batch.pk, Status.READY)
    assert not set(redo.seeds) & set(batch.seeds)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "member", "outsider"])
def test_a_redo_is_only_ever_the_persons_own(tenant_a, tenant_b, who):
    """The redo URL acts on the signed-in person's own photos only; another company's
    person gets a 404 and nothing changes."""
    from .helpers import candidate_for

    candidate_for(tenant_a.member)
    candidate_for(tenant_a.owner)
    client = {"owner": tenant_a.client_for(tenant_a.owner),
              "member": tenant_a.client_for(tenant_a.member),
              "outsider": tenant_b.client_for(tenant_b.owner)}[who]
    before = db_fingerprint()
    response = client.post(_url("headshots_redo", tenant_a.company), {"reason": "x"})
    if who == "outsider":
        assert response.status_code == 404
        assert db_fingerprint() == before
        return
    # Same-company people: no consent in this test, so the redo is refused with a reason
    # and nothing else changes; the other person's jobs are never touched.
    assert response.status_code == 302
    assert db_fingerprint() == before
    assert not ReviewDecision.objects.for_company(tenant_a.company).exists()


@pytest.mark.django_db(transaction=True)
def test_replicate_gets_the_comment_in_its_prompt(tenant_a, fake_replicate, live_server,
                                                  settings):
    import time

    from generation.services.jobs import job_create

    settings.SITE_URL = live_server.url
    settings.REPLICATE_MODEL = "black-forest-labs/flux-kontext-pro"  # official: run by name
    approved_look(tenant_a.company)
    selfie_for(tenant_a.member, data=face_bytes("obama.jpg"))
    job = job_create(company=tenant_a.company, membership=tenant_a.member,
                     requested_by=tenant_a.member.user, instructions="less shiny forehead")
    assert job.backend == GenerationJob.Backend.REPLICATE
    deadline = time.monotonic() + 30
    while not fake_replicate.requests_to("POST", "/v1/models/") and time.monotonic() < deadline:
        time.sleep(0.1)
    prompts = {r.json["input"]["prompt"] for r in fake_replicate.requests_to("POST", "/v1/models/")}
    # After the look's own instruction (backdrop, wardrobe, light), which stays the company's.
    assert prompts and all(p.rstrip(".").endswith("less shiny forehead") and "background" in p
                           for p in prompts)


@pytest.mark.django_db
def test_a_redo_is_spent_only_on_delivery_and_its_credit_refunded_when_it_fails(tenant_a,
                                                                                settings):
    from billing.services import credit_balance, credits_adjust
    from generation.services.jobs import job_fail
    from generation.services.review import redo_request

    from .factories import SelfieFactory
    from .helpers import candidate_for, consent_for

    settings.BILLING_ENABLED = True
    settings.CREDITS_PER_JOB = 1
    settings.LOW_BALANCE_CREDITS = 0
    company, member = tenant_a.company, tenant_a.member
    credits_adjust(company=company, amount=3, reason="pack", actor=None)
    first = candidate_for(member).job  # delivered photos
    consent_for(member)
    SelfieFactory(membership=member, company=company)
    redo = redo_request(company=company, actor=member, reason="warmer")
    assert (redo.redo_of_id, redo.instructions) == (first.pk, "warmer")
    assert credit_balance(company=company) == 2  # reserved
    assert redos_used(company=company, membership=member) == 0  # not delivered yet
    job_fail(redo, reason="The backend gave up.")
    assert credit_balance(company=company) == 3  # refunded by itself
    assert redos_used(company=company, membership=member) == 0
    member.refresh_from_db()
    assert member.status == Membership.Status.REVIEW
