"""Every admin page and API list of bench/scale.py: what they need seeded, and how they are
timed (imported by scale.py; not run on its own).

Each company gets rows for every list in proportion to its people (candidates and their
conformance for review and uniformity, selfies and consent for batches, a credit ledger,
webhook deliveries, data requests, deletion receipts, directory syncs), so a list grows with
the company as it would in use. Each page is then requested for the small and the large
company in turn (interleaved, so a change in the machine's load hits both alike): median,
p95 and queries, and its first and last page where it has pages.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta

# (name, path under /c/<slug>/, last page too)
ADMIN_PAGES = (
    ("dashboard", "admin/", True),
    ("dashboard, one team", "admin/?team={team}", True),
    ("dashboard, one status", "admin/?status=uploaded", True),
    ("teams", "admin/teams/", True),
    ("review", "admin/review/", True),
    ("uniformity", "admin/uniformity/", True),
    ("batches", "admin/batches/", True),
    ("looks", "admin/looks/", False),
    ("export", "admin/export/", False),
    ("invite links", "admin/links/", False),
    ("API keys", "admin/api-keys/", False),
    ("webhooks", "admin/webhooks/", False),
    ("webhook deliveries", "admin/webhooks/{endpoint}/", True),
    ("billing", "admin/billing/", True),
    ("privacy", "admin/privacy/", True),
    ("directory", "admin/directory/", True),
)
API_LISTS = (
    ("API people", "/api/v1/people/?page_size={size}"),
    ("API headshots", "/api/v1/headshots/?page_size={size}"),
    ("API jobs", "/api/v1/jobs/?page_size={size}"),
)
METRICS = ("backdrop_delta_e", "face_height", "face_centre_x", "eye_line", "roll_degrees")


@dataclass
class PageFigure:
    median_ms: float
    p95_ms: float
    queries: int


def seed_page_data(company, owner, people: int, media_key: str) -> dict:
    """Rows for every admin list, in proportion to `people`. Returns what the page paths
    need (a team id, the webhook endpoint's id)."""
    from django.utils import timezone

    from billing.models import CreditEntry
    from delivery.models import (
        DirectoryConnection,
        DirectorySync,
        WebhookDelivery,
        WebhookEndpoint,
    )
    from generation.models import Candidate, GenerationJob, LookVersion, Selfie
    from privacy.models import ConsentNotice, ConsentRecord, DataSubjectRequest, DeletionReceipt
    from teams.models import Membership, Team

    rng = random.Random(company.slug)
    now = timezone.now()
    members = list(Membership.objects.for_company(company).select_related("user")
                   .order_by("pk"))
    version = LookVersion.objects.for_company(company).order_by("pk").first()

    # Review and uniformity: two scored candidates for each person ready for review.
    review = [m for m in members if m.status == Membership.Status.REVIEW]
    for start in range(0, len(review), 500):
        batch = review[start:start + 500]
        jobs = GenerationJob.objects.bulk_create([GenerationJob(
            company=company, membership=m, kind=GenerationJob.Kind.SINGLE_SELFIE,
            look_version=version, backend=GenerationJob.Backend.OFFLINE,
            status=GenerationJob.Status.READY, seeds=[1, 2], queued_at=now, started_at=now,
            finished_at=now, updated_at=now) for m in batch])
        Candidate.objects.bulk_create([Candidate(
            company=company, job=job, membership=m, seed=seed, source_id="bench",
            image_key=media_key, thumb_key=media_key, width=819, height=1024,
            likeness=rng.uniform(0.5, 0.8), likeness_distance=rng.uniform(0.2, 0.5),
            conformance={"backdrop_delta_e": rng.uniform(0, 4), "face_height": rng.gauss(0.3, 0.02),
                         "face_centre_x": rng.gauss(0.5, 0.01), "eye_line": rng.gauss(0.4, 0.01),
                         "roll_degrees": rng.gauss(0, 2), "flags": []},
            scored_at=now, visible=True) for m, job in zip(batch, jobs, strict=True)
            for seed in (1, 2)])
    # The approved people's candidates get conformance too (the report shows them).
    Candidate.objects.for_company(company).filter(conformance={}).update(conformance={
        "backdrop_delta_e": 1.0, "face_height": 0.3, "face_centre_x": 0.5, "eye_line": 0.4,
        "roll_degrees": 0.5, "flags": []})

    # Batches: consent for everyone consented or uploaded, and four accepted selfies for
    # two in three of the uploaded (the rest two: not ready yet).
    ready = [m for m in members if m.status in (Membership.Status.CONSENTED,
                                                Membership.Status.UPLOADED)]
    notice = ConsentNotice.objects.for_company(company).order_by("-version").first()
    ConsentRecord.objects.bulk_create([ConsentRecord(
        company=company, subject_user_id=m.user_id, subject_email=m.user.email,
        signed_name=m.user.full_name, event=ConsentRecord.Event.GRANTED, notice=notice,
        notice_version=notice.version, notice_sha256=notice.sha256,
        method=ConsentRecord.Method.WEB_FORM,
        prev_hash=hashlib.sha256(f"{company.slug}:p:{m.pk}".encode()).hexdigest(),
        hash=hashlib.sha256(f"{company.slug}:h:{m.pk}".encode()).hexdigest())
        for m in ready], batch_size=2000)
    Selfie.objects.bulk_create([Selfie(
        company=company, membership=m, image_key=media_key, thumb_key=media_key, width=768,
        height=1024, size_bytes=1000, source_format="JPEG", status=Selfie.Status.ACCEPTED,
        content_sha256=hashlib.sha256(f"{company.slug}:{m.pk}:{k}".encode()).hexdigest())
        for i, m in enumerate(ready) if m.status == Membership.Status.UPLOADED
        for k in range(2 if i % 3 == 0 else 4)],
        batch_size=2000)

    # The credit ledger: a purchase, then a reservation and a consumption per job.
    jobs = list(GenerationJob.objects.for_company(company).values_list("pk", flat=True))
    entries = [CreditEntry(company=company, kind=CreditEntry.Kind.PURCHASE,
                           amount=len(jobs) * 2, stripe_ref=f"cs_bench_{company.slug}",
                           created_at=now - timedelta(days=40))]
    for job in jobs:
        entries += [CreditEntry(company=company, kind=CreditEntry.Kind.RESERVATION, amount=-1,
                                job_ref=job, created_at=now - timedelta(minutes=rng.randint(1, 9999))),
                    CreditEntry(company=company, kind=CreditEntry.Kind.CONSUMPTION, amount=0,
                                job_ref=job, created_at=now - timedelta(minutes=rng.randint(1, 9999)))]
    CreditEntry.objects.bulk_create(entries, batch_size=2000)

    # Webhooks: one endpoint, a delivery per person.
    endpoint = WebhookEndpoint.objects.create(company=company, url="https://hooks.example/x",
                                              events=["person.updated"], secret="s" * 32)
    WebhookDelivery.objects.bulk_create([WebhookDelivery(
        company=company, endpoint=endpoint, event_id=f"evt_{m.pk}", event_type="person.updated",
        payload={"id": m.pk}, status=WebhookDelivery.Status.SUCCEEDED, attempts=1,
        created_at=now - timedelta(minutes=rng.randint(1, 99999))) for m in members],
        batch_size=2000)

    # Privacy: data requests from 1 % of people, two deletion receipts a person this month.
    DataSubjectRequest.objects.bulk_create([DataSubjectRequest(
        company=company, kind=DataSubjectRequest.Kind.EXPORT,
        status=DataSubjectRequest.Status.COMPLETED, subject_user_id=m.user_id,
        subject_email=m.user.email, membership_ref=m.pk, due_at=now + timedelta(days=30),
        requested_at=now - timedelta(hours=rng.randint(1, 2000)))
        for m in members[::100]])
    DeletionReceipt.objects.bulk_create([DeletionReceipt(
        company=company, kind=kind, object_ref=f"{kind}:{m.pk}", subject_user_id=m.user_id,
        rule="retention", deleted_at=now - timedelta(hours=rng.randint(1, 700)))
        for m in members for kind in ("selfie", "candidate")], batch_size=2000)

    # Directory: one connection, a sync per approved person.
    connection = DirectoryConnection.objects.create(company=company, provider="entra",
                                                    config={"tenant_id": "bench"})
    DirectorySync.objects.bulk_create([DirectorySync(
        company=company, connection=connection, membership=m,
        status=DirectorySync.Status.SYNCED, updated_at=now - timedelta(minutes=rng.randint(1, 9999)))
        for m in members if m.status == Membership.Status.APPROVED], batch_size=2000)

    team = Team.objects.for_company(company).order_by("name").first()
    return {"team": team.pk, "endpoint": endpoint.pk}


def measure_pair(small_get, large_get, runs: int) -> tuple[PageFigure, PageFigure]:
    """Time two requests in turn, `runs` times each after two warm-ups of each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times: dict[str, list[float]] = {"small": [], "large": []}
    gets = {"small": small_get, "large": large_get}
    for _ in range(2):
        for get in gets.values():
            get()
    for run in range(runs):
        order = ("small", "large") if run % 2 == 0 else ("large", "small")
        for label in order:
            started = time.perf_counter()
            gets[label]()
            times[label].append((time.perf_counter() - started) * 1000)
    figures = []
    for label in ("small", "large"):
        with CaptureQueriesContext(connection) as captured:
            gets[label]()
        ordered = sorted(times[label])
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        figures.append(PageFigure(statistics.median(ordered), p95,
                                  len(captured.captured_queries)))
    return figures[0], figures[1]


def _getter(client, url: str, **headers):
    def get():
        response = client.get(url, **headers)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
        return response
    return get


def _api_cursor_near_end(model_path: str, company) -> str:
    """A cursor ten rows before the end of an API list: its last page."""
    from delivery.api.base import UpdatedCursor
    from generation.models import GenerationJob, Headshot
    from teams.models import Membership

    model, field = {"people": (Membership, "updated_at"), "headshots": (Headshot, "approved_at"),
                    "jobs": (GenerationJob, "updated_at")}[model_path]
    rows = model.objects.for_company(company).order_by(f"-{field}", "-pk")
    row = rows[min(10, rows.count() - 1)]
    return UpdatedCursor().encode_cursor(getattr(row, field), row.pk, False)


def page_pairs(small, large, extras: dict, size: int) -> list[tuple[str, object, object]]:
    """(name, small getter, large getter) for every admin page and API list; the API asked
    for `size` rows a page (the admin pages take ADMIN_LIST_PAGE_SIZE)."""
    from django.test import Client

    from delivery.api.keys import api_key_create

    pairs = []
    clients, keys = {}, {}
    for label, seeded in (("small", small), ("large", large)):
        client = Client()
        client.force_login(seeded.admin.user)
        clients[label] = client
        _, raw = api_key_create(company=seeded.company, actor=seeded.admin, name="bench",
                                scope="read")
        keys[label] = raw
    seeded = {"small": small, "large": large}
    for name, path, paged in ADMIN_PAGES:
        urls = {label: f"/c/{seeded[label].company.slug}/" + path.format(**extras[label])
                for label in ("small", "large")}
        pairs.append((name, _getter(clients["small"], urls["small"]),
                      _getter(clients["large"], urls["large"])))
        if paged:
            joiner = "&" if "?" in path else "?"
            pairs.append((f"{name}, last page",
                          _getter(clients["small"], urls["small"] + f"{joiner}page=last"),
                          _getter(clients["large"], urls["large"] + f"{joiner}page=last")))
    api = Client()
    for name, url in API_LISTS:
        url = url.format(size=size)
        getters = [_getter(api, url, HTTP_AUTHORIZATION=f"Bearer {keys[label]}")
                   for label in ("small", "large")]
        pairs.append((name, *getters))
        kind = url.split("/")[3]
        getters = [_getter(api, url + "&cursor=" + _api_cursor_near_end(
            kind, seeded[label].company), HTTP_AUTHORIZATION=f"Bearer {keys[label]}")
            for label in ("small", "large")]
        pairs.append((f"{name}, last page", *getters))
    return pairs
