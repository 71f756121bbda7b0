"""Scale benchmarks: a seeded company of 10,000 people against one of 10, one command.

    .venv/bin/python bench/scale.py [--quick] [--database-url postgres://…/likeness_bench_scale]

Seeds (bulk_create) a small and a large company: users, memberships over ~50 teams, pending
invitations, approved headshots with their jobs and photos. Then times, with the Django test
Client where a page is involved:

1. the admin dashboard (/c/<slug>/admin/, its first and last page): median time, queries;
2. the API people listing (/api/v1/people/?page_size=50): median time, queries;
3. the CSV import of 10,000 rows (teams.services.csv_import), "send later" and "send now";
4. the ZIP export of 1,000 approved headshots (delivery.exports.services.headshots_zip);
5. the retention sweep (manage.py privacy_sweep) over 100,000 expired selfie files, with
   the process's resident memory sampled while it runs;
6. the platform's own time per job, job_create → task started → candidates stored → ready,
   on the offline backend with the model steps (the retouch, face embeddings, conformance)
   stubbed to return at once: what is left is the platform.

Each figure is printed with its goal and PASS/MISS. Files go to a temporary folder
(FileSystemStorage), never to MEDIA_ROOT. The database is a throwaway SQLite file unless
--database-url (or DATABASE_URL) names PostgreSQL: that database is dropped, created,
migrated, and dropped again at the end (its name must contain "bench"). See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import logging
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
# ../shared/faces beside the checkout, else the machine's shared folder (worktrees).
FACES = next((p for p in (ROOT.parent / "shared" / "faces", Path("/work/shared/faces"))
              if p.exists()), ROOT.parent / "shared" / "faces")
for _path in (ROOT, Path(__file__).resolve().parent):  # the project, and scale_pages.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

FIRST = ("Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Edsger", "Frances", "Ken",
         "Radia", "Dennis", "Hedy", "John", "Katherine", "Niklaus", "Sophie", "Tim", "Yukihiro")
LAST = ("Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Liskov", "Dijkstra", "Allen",
        "Thompson", "Perlman", "Ritchie", "Lamarr", "Backus", "Johnson", "Wirth", "Wilson",
        "Berners-Lee", "Matsumoto")
# The quality figures intake keeps on an accepted selfie (as measured on a real portrait).
INTAKE_METRICS = {"faces": 1, "width": 768, "height": 1024, "face_fraction": 0.29,
                  "face_pixels": 266, "roll_degrees": -0.5, "detector_score": 1.65,
                  "other_faces": [], "sharpness": 552.4, "brightness": 146.2, "clipped": 0.001,
                  "detail": 0.499, "texture": 0.857, "blockiness": 0.023, "codes": [],
                  "too_tight_for": []}
# Where people are in the flow (approved people get a headshot; the rest of the approved
# share comes from the export size). Weights per 100.
STATUS_MIX = (("invited", 15), ("joined", 10), ("consented", 10), ("uploaded", 15),
              ("generating", 5), ("review", 10), ("approved", 30), ("withdrawn", 5))


@dataclass
class Sizes:
    small: int = 10
    large: int = 10_000
    teams: int = 50
    import_rows: int = 10_000
    export: int = 1_000  # approved headshots in the large company
    files: int = 100_000  # expired selfie files (an image and a thumbnail per selfie)
    runs: int = 15  # timed requests per page, after 2 warm-ups
    jobs: int = 5  # jobs timed per company
    headshot_px: int = 1024  # long side of the seeded headshots (4:5)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(large=1_000, import_rows=1_000, export=100, files=10_000, runs=5, jobs=2,
                   headshot_px=512)


@dataclass
class Figure:
    name: str
    small: str
    large: str
    goal: str
    result: str  # PASS, MISS, or "" where no goal is set


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, small: str, large: str, goal: str = "", ok: bool | None = None,
            ) -> None:
        self.figures.append(Figure(name, small, large, goal,
                                   "" if ok is None else ("PASS" if ok else "MISS")))


# --- Images and files ------------------------------------------------------------------------


def _jpeg(image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _portrait(width: int, height: int):
    """A real face when ../shared/faces has one (encoders see real detail), else a gradient."""
    from PIL import Image, ImageOps

    face = FACES / "obama.jpg"
    if face.exists():
        return ImageOps.fit(Image.open(face).convert("RGB"), (width, height))
    ramp = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (ramp, ramp.rotate(90), ramp.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))


def _write(media: Path, key: str, data: bytes) -> None:
    path = media / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# --- Seeding --------------------------------------------------------------------------------


@dataclass
class Seeded:
    company: object
    admin: object  # Membership
    subject: object  # a consented Membership with a selfie, for jobs
    people: int
    extras: dict = field(default_factory=dict)  # what the page paths need (scale_pages.py)


def _batched(items: list, size: int = 2000) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def seed_company(slug: str, people: int, *, teams: int, headshots: int, media: Path,
                 headshot_px: int) -> Seeded:
    """A company of `people` (owner and one admin included), bulk-created."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from generation.models import Candidate, GenerationJob, Headshot, Selfie
    from generation.services.looks import look_version_approve, look_version_create
    from teams.models import Invitation, Membership, Team, User
    from teams.services.companies import company_create

    rng = random.Random(slug)
    now = timezone.now()
    company = company_create(name=slug.title(), slug=slug, owner_email=f"owner@{slug}.example",
                             owner_name="Olive Owner")
    owner = Membership.objects.for_company(company).get(role=Membership.Role.OWNER)
    team_rows = Team.objects.bulk_create(
        [Team(company=company, name=f"Team {i:02d}") for i in range(max(1, teams))])
    unusable = make_password(None)
    count = max(0, people - 1)  # the owner is one of them
    users = [User(email=f"p{i:05d}@{slug}.example", password=unusable,
                  full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}") for i in range(count)]
    for batch in _batched(users):
        User.objects.bulk_create(batch)
    users = list(User.objects.filter(email__endswith=f"@{slug}.example")
                 .exclude(pk=owner.user_id).order_by("email"))
    statuses = [s for s, weight in STATUS_MIX for _ in range(weight)]
    # Approved people (with a headshot) spread evenly; index 0 is the admin.
    step = max(1, (count - 1) // max(1, headshots))
    approved_at = {1 + k * step for k in range(headshots)}
    members = []
    for index, user in enumerate(users):
        if index == 0:
            status, role = "joined", Membership.Role.ADMIN
        elif index in approved_at:
            status, role = "approved", Membership.Role.MEMBER
        else:
            # Spread over the mix deterministically (37 is prime to 100): even 10 people
            # cover most statuses, so every list has someone on it in both companies.
            status = statuses[(index * 37) % len(statuses)]
            status = "review" if status == "approved" else status
            role = Membership.Role.MEMBER
        invited = now - timedelta(days=rng.randint(1, 60))
        members.append(Membership(
            company=company, user=user, role=role, status=status,
            team=team_rows[index % len(team_rows)] if index % 17 else None,
            job_title=rng.choice(("Engineer", "Designer", "Analyst", "Manager", "")),
            invited_at=invited, joined_at=None if status == "invited" else invited,
            added_by=owner.user, updated_at=invited))
    for batch in _batched(members):
        Membership.objects.bulk_create(batch)
    members = list(Membership.objects.for_company(company).select_related("user")
                   .exclude(role=Membership.Role.OWNER).order_by("pk"))
    admin = members[0] if members else owner
    Invitation.objects.bulk_create([
        Invitation(company=company, membership=m, email=m.user.email,
                   token_hash=hashlib.sha256(f"bench:{slug}:{m.pk}".encode()).hexdigest(),
                   created_by=owner.user, created_at=m.invited_at, sent_at=m.invited_at,
                   expires_at=now + timedelta(days=14))
        for m in members if m.status == "invited"], batch_size=2000)

    version = look_version_create(company=company, actor=owner, team=None, preset="corporate")
    version = look_version_approve(company=company, actor=owner, version=version,
                                   require_preview=False)
    approved = [m for m in members if m.status == "approved"]
    width, height = round(headshot_px * 4 / 5), headshot_px
    image = _jpeg(_portrait(width, height), quality=92)
    thumb = _jpeg(_portrait(round(384 * 4 / 5), 384), quality=85)
    for batch in _batched(approved, 500):
        jobs = GenerationJob.objects.bulk_create([GenerationJob(
            company=company, membership=m, kind=GenerationJob.Kind.SINGLE_SELFIE,
            look_version=version, backend=GenerationJob.Backend.OFFLINE,
            status=GenerationJob.Status.READY, seeds=[7], queued_at=now, started_at=now,
            finished_at=now, updated_at=now) for m in batch])
        candidates = []
        for m, job in zip(batch, jobs, strict=True):
            base = f"candidates/c{company.pk}/j{job.pk}/7-0-bench"
            _write(media, f"{base}.jpg", image)
            _write(media, f"{base}_thumb.jpg", thumb)
            candidates.append(Candidate(
                company=company, job=job, membership=m, seed=7, source_id="bench",
                image_key=f"{base}.jpg", thumb_key=f"{base}_thumb.jpg", width=width,
                height=height, visible=True, gates_passed=True, is_favourite=True,
                scored_at=now))
        candidates = Candidate.objects.bulk_create(candidates)
        Headshot.objects.bulk_create([
            Headshot(company=company, membership=m, candidate=c, approved_by=owner.user,
                     approved_at=now) for m, c in zip(batch, candidates, strict=True)])

    # One person who can order headshots: consent given, one accepted selfie.
    subject = next((m for m in members if m.status == "consented"), admin)
    _consent(subject)
    selfie = _jpeg(_portrait(768, 1024))
    key = f"selfies/c{company.pk}/m{subject.pk}/bench"
    _write(media, f"{key}.jpg", selfie)
    _write(media, f"{key}_thumb.jpg", thumb)
    # With what intake keeps on an accepted selfie (its face embedding and quality figures,
    # computed once at upload), as every selfie a job reads has: without them each job would
    # decode the selfie and look for a face again (``scoring._selfie_backfill``, for selfies
    # stored before those were kept), which no job after an upload does.
    Selfie.objects.create(
        company=company, membership=subject, image_key=f"{key}.jpg", thumb_key=f"{key}_thumb.jpg",
        width=768, height=1024, size_bytes=len(selfie), source_format="JPEG",
        content_sha256=hashlib.sha256(selfie).hexdigest(), status=Selfie.Status.ACCEPTED,
        face_embedding=[rng.uniform(-0.2, 0.2) for _ in range(128)], qa_metrics=INTAKE_METRICS)
    Membership.objects.for_company(company).filter(pk=subject.pk).update(status="uploaded")
    from scale_pages import seed_page_data

    extras = seed_page_data(company, owner, count + 1, f"{base}.jpg" if approved else key + ".jpg")
    return Seeded(company=company, admin=admin, subject=subject, people=count + 1, extras=extras)


def _consent(membership) -> None:
    from privacy.services import RequestInfo, consent_grant, notice_current

    consent_grant(company=membership.company, membership=membership,
                  notice=notice_current(company=membership.company),
                  signed_name=membership.user.full_name or "Bench Person", agreed=True,
                  request_info=RequestInfo(ip_address="127.0.0.1", user_agent="bench/scale.py"))


def seed_expired_selfies(company, files: int, media: Path) -> int:
    """files // 2 selfies uploaded 31 days ago (past every policy's 30-day limit), each with
    its image and thumbnail on disk, spread over the company's people."""
    from django.utils import timezone

    from generation.models import Selfie
    from teams.models import Membership

    selfies = files // 2
    member_ids = list(Membership.objects.for_company(company).values_list("pk", flat=True))
    old = timezone.now() - timedelta(days=31)
    data = _jpeg(_portrait(48, 64), quality=70)
    rows = []
    for i in range(selfies):
        mid = member_ids[i % len(member_ids)]
        key = f"selfies/c{company.pk}/m{mid}/old-{i:06d}"
        _write(media, f"{key}.jpg", data)
        _write(media, f"{key}_thumb.jpg", data)
        rows.append(Selfie(
            company=company, membership_id=mid, image_key=f"{key}.jpg",
            thumb_key=f"{key}_thumb.jpg", width=48, height=64, size_bytes=len(data),
            source_format="JPEG", content_sha256=hashlib.sha256(f"old-{i}".encode()).hexdigest(),
            status=Selfie.Status.ACCEPTED, created_at=old))
        if len(rows) == 5000:
            Selfie.objects.bulk_create(rows)
            rows = []
    Selfie.objects.bulk_create(rows)
    return selfies


# --- Measuring ------------------------------------------------------------------------------


class RssSampler:
    """Resident memory of this process, sampled every `interval` seconds in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm") as handle:
                return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: the high-water mark is the best there is
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.rss()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.baseline = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), self.rss()))

    def at(self, fraction: float) -> int:
        start, end = self.samples[0][0], self.samples[-1][0]
        moment = start + (end - start) * fraction
        return next(rss for t, rss in self.samples if t >= moment)

    @property
    def peak(self) -> int:
        return max(rss for _, rss in self.samples)


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _s(value: float) -> str:
    return f"{value:.2f} s"


# --- The benchmarks -------------------------------------------------------------------------


def bench_pages(results: Results, small: Seeded, large: Seeded, runs: int,
                goal: float = 1.3) -> None:
    """Every admin page and API list (scale_pages.py), small and large company in turn, at
    the default page size (50: the small company shows fewer rows than the large one) and
    at 10 a page (both show the same number of rows, so the ratio is the company's size
    alone)."""
    from django.conf import settings
    from django.test.utils import override_settings
    from scale_pages import measure_pair, page_pairs

    extras = {"small": small.extras, "large": large.extras}
    default = settings.ADMIN_LIST_PAGE_SIZE
    for size in (default, 10):
        with override_settings(ADMIN_LIST_PAGE_SIZE=size):
            for name, small_get, large_get in page_pairs(small, large, extras, size):
                s, big = measure_pair(small_get, large_get, runs)
                ratio = big.median_ms / s.median_ms if s.median_ms else float("inf")
                key = (name.replace(", ", "_").replace(" ", "_").lower()
                       + ("" if size == default else f"_{size}"))
                results.values[f"{key}_ms_small"] = s.median_ms
                results.values[f"{key}_ms_large"] = big.median_ms
                results.values[f"{key}_queries_small"] = s.queries
                results.values[f"{key}_queries_large"] = big.queries
                results.add(f"{name} ({size} a page): median (p95), queries",
                            f"{_ms(s.median_ms)} ({_ms(s.p95_ms)}), {s.queries}",
                            f"{_ms(big.median_ms)} ({_ms(big.p95_ms)}), {big.queries}",
                            f"≤ {goal:g}× (×{ratio:.2f}); same queries",
                            ratio <= goal and s.queries == big.queries)


def _import_csv(rows: int, slug: str, teams: int) -> bytes:
    rng = random.Random(rows)
    lines = ["email,name,team,job_title"]
    for i in range(rows):
        lines.append(f"new{i:05d}@{slug}.example,{rng.choice(FIRST)} {rng.choice(LAST)},"
                     f"Department {i % teams:02d},{rng.choice(('Engineer', 'Analyst', ''))}")
    return ("\n".join(lines) + "\n").encode()


def bench_import(results: Results, sizes: Sizes, tag: str) -> None:
    from teams.models import Invitation, Membership
    from teams.services.companies import company_create
    from teams.services.csv_import import csv_import_check, csv_import_run

    timings = {}
    for mode, send_now in (("send later", False), ("send now", True)):
        slug = f"bench-i{'now' if send_now else 'later'}-{tag}"
        company = company_create(name=slug, slug=slug, owner_email=f"owner@{slug}.example")
        owner = Membership.objects.for_company(company).select_related("user").get()
        data = _import_csv(sizes.import_rows, slug, sizes.teams)
        started = time.perf_counter()
        check = csv_import_check(company=company, data=data)
        checked = time.perf_counter() - started
        assert check.ok, check.errors[:5]
        queued = []
        # The import queues one task that e-mails the saved invitations after the commit,
        # as in production; its publish is replaced by a list (the worker's sending is not
        # the time the admin waits for).
        with mock.patch("teams.tasks.send_saved_invitations") as task:
            task.delay.side_effect = lambda _company, ids, _queued=queued: _queued.extend(ids)
            started = time.perf_counter()
            result = csv_import_run(company=company, created_by=owner.user, data=data,
                                    send_now=send_now)
            elapsed = time.perf_counter() - started
        assert result.ok and len(result.rows) == sizes.import_rows
        assert Invitation.objects.for_company(company).count() == sizes.import_rows
        assert len(queued) == (sizes.import_rows if send_now else 0), len(queued)
        timings[mode] = elapsed
        results.values[f"import_{mode.replace(' ', '_')}_s"] = elapsed
        results.values[f"import_check_{mode.replace(' ', '_')}_s"] = checked
        goal = 10.0 * sizes.import_rows / 10_000  # 10 s for 10,000 rows
        results.add(f"CSV import {sizes.import_rows:,} rows, {mode} (check alone {_s(checked)})",
                    "—", _s(elapsed), f"≤ {goal:g} s" + ("" if goal == 10 else
                                                         " (10 s per 10,000)"), elapsed <= goal)


def bench_export(results: Results, large: Seeded, expected: int, px: int) -> None:
    from delivery.exports.services import DEFAULT_PATTERN, headshots_zip
    from delivery.variants import Variant

    started = time.perf_counter()
    archive = headshots_zip(company=large.company, team=None, variant=Variant(),
                            pattern=DEFAULT_PATTERN)
    elapsed = time.perf_counter() - started
    import zipfile

    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
    archive.seek(0, 2)
    size = archive.tell()
    archive.close()
    assert len(names) == expected, (len(names), expected)
    results.values["export_s"] = elapsed
    results.add(f"ZIP export of {expected:,} headshots ({px} px JPEG), {size / 2**20:.0f} MB",
                "—", f"{_s(elapsed)} ({elapsed / expected * 1000:.1f} ms each)")


@contextmanager
def _models_stubbed(model_time: list[float],
                    model_cpu: list[float] | None = None) -> Iterator[None]:
    """The retouch returns a precomputed image; embeddings and conformance answer at once."""
    from generation.conformance import ConformanceResult

    images: dict[tuple[int, int], object] = {}
    vector = [0.05] * 128

    def retouch(image, *, look, seed, instructions="", subject=None):
        started, started_cpu = time.perf_counter(), time.process_time()
        if look.aspect < 1:
            size = (round(look.output_size * look.aspect), look.output_size)
        else:
            size = (look.output_size, round(look.output_size / look.aspect))
        if size not in images:
            images[size] = _portrait(*size)
        model_time.append(time.perf_counter() - started)
        if model_cpu is not None:
            model_cpu.append(time.process_time() - started_cpu)
        return images[size].copy()

    def embedding(image, **_kwargs):
        return list(vector)

    def conformance(image, *, look, tolerances):
        return ConformanceResult(metrics={"bench": True}, flags=[])

    def gates(images, *, references, look, tolerances, threshold, check_colour=True):
        from generation.gates.candidate import CandidateVerdict

        return [CandidateVerdict(reasons=[], metrics={"bench": True}, embedding=list(vector),
                                 distance=0.1) for _ in images]

    with mock.patch("generation.backends.offline.studio_retouch", retouch), \
            mock.patch("generation.backends.offline.finish_subject", lambda image: object()), \
            mock.patch("generation.scoring.face_embedding", embedding), \
            mock.patch("generation.scoring.candidates_gate", gates), \
            mock.patch("generation.conformance.conformance_check", conformance):
        yield


@contextmanager
def _gc_timed() -> Iterator[list[float]]:
    """CPU seconds of each garbage collection while the block runs."""
    spent: list[float] = []
    began = [0.0]

    def callback(phase: str, _info: dict) -> None:
        if phase == "start":
            began[0] = time.process_time()
        else:
            spent.append(time.process_time() - began[0])

    gc.callbacks.append(callback)
    try:
        yield spent
    finally:
        gc.callbacks.remove(callback)


# Who has selfies (each with its face embedding) in a company, as in a real one: everyone
# past consent, two photos each. Scoring compares each candidate with all of them.
WITH_SELFIES = ("uploaded", "generating", "review", "approved", "withdrawn")


def seed_colleague_selfies(seeded: Seeded) -> int:
    """Two accepted selfies with embeddings for each person past consent (no files: scoring
    reads only their embeddings)."""
    from generation.models import Selfie
    from teams.models import Membership

    rng = random.Random(seeded.company.slug)
    people = (Membership.objects.for_company(seeded.company).filter(status__in=WITH_SELFIES)
              .exclude(pk=seeded.subject.pk).values_list("pk", flat=True))
    rows = [Selfie(company=seeded.company, membership_id=pk, image_key=f"bench/{pk}-{n}.jpg",
                   thumb_key=f"bench/{pk}-{n}_thumb.jpg", width=768, height=1024,
                   size_bytes=1, source_format="JPEG", content_sha256=f"bench-{pk}-{n}",
                   status=Selfie.Status.ACCEPTED,
                   face_embedding=[rng.uniform(-0.2, 0.2) for _ in range(128)])
            for pk in people for n in range(2)]
    for batch in _batched(rows):
        Selfie.objects.bulk_create(batch)
    return len(rows)


def _upload(seeded: Seeded, membership_id: int, n: int) -> None:
    """One more accepted selfie with its embedding for a colleague, as intake stores it."""
    from generation.models import Selfie

    rng = random.Random(n)
    Selfie.objects.create(
        company=seeded.company, membership_id=membership_id, image_key=f"bench/u{n}.jpg",
        thumb_key=f"bench/u{n}_thumb.jpg", width=768, height=1024, size_bytes=1,
        source_format="JPEG", content_sha256=f"bench-upload-{membership_id}-{n}",
        status=Selfie.Status.ACCEPTED,
        face_embedding=[rng.uniform(-0.2, 0.2) for _ in range(128)])


def bench_jobs(results: Results, small: Seeded, large: Seeded, jobs: int) -> None:
    from generation import runner, tasks
    from generation.colleagues import colleague_centroids
    from generation.models import Candidate, GenerationJob
    from generation.services.jobs import job_create
    from teams.models import Membership

    built: dict[str, str] = {}
    for label, seeded in (("small", small), ("large", large)):
        selfies = seed_colleague_selfies(seeded)
        _analyze()
        started = time.perf_counter()
        known = colleague_centroids(company_id=seeded.company.pk,
                                    exclude_membership=seeded.subject.pk)
        built[label] = (f"{_ms((time.perf_counter() - started) * 1000)} ({selfies:,} selfies, "
                        f"{len(known):,} people)")
    results.add("Colleague index made (the first job after the company's selfies changed)",
                built["small"], built["large"])
    per: dict[str, list[dict[str, float]]] = {}
    for label, seeded in (("small", small), ("large", large)):
        subject = Membership.objects.for_company(seeded.company).select_related(
            "user", "company").get(pk=seeded.subject.pk)
        colleague = (Membership.objects.for_company(seeded.company)
                     .filter(status__in=WITH_SELFIES).exclude(pk=seeded.subject.pk)
                     .values_list("pk", flat=True).first())
        # The first job is a warm-up; after the timed ones, as many again, each right after a
        # colleague's upload (a roll-out: the colleague index changes before every job).
        for run in range(2 * jobs + 1):
            if run > jobs and colleague is not None:
                _upload(seeded, colleague, run)
            model_time: list[float] = []
            model_cpu: list[float] = []
            marks: dict[str, float] = {}
            real_job, real_store = tasks._job, runner.candidate_store

            def job_lookup(job_id, _real=real_job, _marks=marks):
                _marks.setdefault("dispatched", time.perf_counter())
                _marks.setdefault("dispatched_cpu", time.process_time())
                return _real(job_id)

            def store(_real=real_store, _marks=marks, **kwargs):
                candidate = _real(**kwargs)
                _marks["stored"] = time.perf_counter()
                _marks["stored_cpu"] = time.process_time()
                return candidate

            with _models_stubbed(model_time, model_cpu), _gc_timed() as collecting, \
                    mock.patch.object(tasks, "_job", job_lookup), \
                    mock.patch.object(runner, "candidate_store", store):
                started, started_cpu = time.perf_counter(), time.process_time()
                job = job_create(company=seeded.company, membership=subject,
                                 requested_by=subject.user)
                ready, ready_cpu = time.perf_counter(), time.process_time()
            job.refresh_from_db()
            assert job.status == GenerationJob.Status.READY, (job.status, job.failure_reason)
            made = Candidate.objects.for_company(seeded.company).filter(job=job).count()
            assert made == len(job.seeds), (made, job.seeds)
            model = sum(model_time)
            if run:
                per.setdefault(label if run <= jobs else f"{label}_upload", []).append({
                    "accept": marks["dispatched"] - started,
                    "store": marks["stored"] - marks["dispatched"] - model,
                    "finish": ready - marks["stored"],
                    "total": ready - started - model, "candidates": made,
                    # CPU time of this process (all threads) for the same span: on a shared
                    # machine, what the platform's work costs, apart from waiting for a core.
                    "total_cpu": ready_cpu - started_cpu - sum(model_cpu),
                    # Of that CPU, the garbage collector's passes (their cost grows with
                    # every object the process holds, not with the job alone).
                    "gc_cpu": sum(collecting)})
    if per.get("small_upload") and per.get("large_upload"):
        s, big = (statistics.median(r["total"] for r in per[f"{label}_upload"]) * 1000
                  for label in ("small", "large"))
        results.values["job_total_after_upload_ms_small"] = s
        results.values["job_total_after_upload_ms_large"] = big
        results.add("Job overhead: total per job right after a colleague's upload (a roll-out)",
                    _ms(s), _ms(big))
    parts = (("accept", "job_create → task started"),
             ("store", "task started → candidates stored"),
             ("finish", "stored → ready (scoring, notices)"),
             ("total", "total per job, model time excluded"),
             ("total_cpu", "CPU per job, model time excluded"),
             ("total_cpu_mean", "CPU per job, mean"),
             ("gc_cpu", "of which the garbage collector (CPU), mean"))
    for key, label in parts:
        # A full collection lands in one job of several: the mean, not the median, says
        # what the collector costs per job (and the CPU mean beside it).
        average = statistics.mean if key in ("gc_cpu", "total_cpu_mean") else statistics.median
        field = "total_cpu" if key == "total_cpu_mean" else key
        s = average(r[field] for r in per["small"]) * 1000
        big = average(r[field] for r in per["large"]) * 1000
        results.values[f"job_{key}_ms_small"] = s
        results.values[f"job_{key}_ms_large"] = big
        candidates = per["small"][0]["candidates"]
        # Issue 19's goal, on the process's CPU: on a shared machine the wall time is
        # mostly waiting for a core (both are printed).
        goal, ok = ("≤ 100 ms", max(s, big) <= 100) if key == "total_cpu" else ("", None)
        results.add(f"Job overhead: {label}" + (f" ({candidates} candidates)"
                                                   if key.startswith("total") else ""),
                    _ms(s), _ms(big), goal, ok)


def bench_sweep(results: Results, large: Seeded, files: int, media: Path) -> None:
    from django.core.management import call_command

    from generation.models import Selfie

    started = time.perf_counter()
    selfies = seed_expired_selfies(large.company, files, media)
    _analyze()
    seeded_in = time.perf_counter() - started
    out = io.StringIO()
    with RssSampler() as memory:
        started = time.perf_counter()
        call_command("privacy_sweep", stdout=out)
        elapsed = time.perf_counter() - started
    left = Selfie.objects.for_company(large.company).filter(image_key__contains="/old-").count()
    on_disk = sum(1 for _ in (media / "selfies" / f"c{large.company.pk}").rglob("old-*"))
    assert left == 0 and on_disk == 0, (left, on_disk, out.getvalue())
    growth_after_quarter = memory.peak - memory.at(0.25)
    goal = 60.0 * selfies * 2 / 100_000  # 60 s for 100,000 files
    results.values.update(sweep_s=elapsed, sweep_seed_s=seeded_in,
                          sweep_rss_baseline=memory.baseline, sweep_rss_peak=memory.peak,
                          sweep_rss_growth_after_quarter=growth_after_quarter)
    results.add(f"Retention sweep, {selfies * 2:,} expired files ({selfies:,} selfies)",
                "—", f"{_s(elapsed)} ({elapsed / selfies * 1000:.2f} ms per selfie)",
                f"≤ {goal:g} s" + ("" if goal == 60 else " (60 s per 100,000)"), elapsed <= goal)
    results.add("Retention sweep: resident memory",
                "—", f"+{_mb(memory.peak - memory.baseline)} peak; +{_mb(growth_after_quarter)} "
                f"after the first quarter", "flat after the first quarter (≤ 16 MB)",
                growth_after_quarter <= 16 * 2**20)


# --- Running ----------------------------------------------------------------------------------


@contextmanager
def bench_environment(media: Path) -> Iterator[None]:
    """Production-like settings for the run: local files in `media`, no debug, tasks in
    process, no Replicate, billing off, e-mail discarded, quiet logs."""
    from django.conf import settings
    from django.test.utils import override_settings

    from config.celery import app

    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(media), "base_url": "/media-not-public/"}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    eager = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    logging.disable(logging.WARNING)
    try:
        with override_settings(
            STORAGES=storages, MEDIA_ROOT=str(media), DEBUG=False,
            ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
            REPLICATE_API_TOKEN="", BILLING_ENABLED=False,
            SEEDS_PER_JOB={**settings.SEEDS_PER_JOB, "offline": 4},
        ):
            yield
    finally:
        logging.disable(logging.NOTSET)
        app.conf.task_always_eager, app.conf.task_eager_propagates = eager


def _analyze() -> None:
    """The tables as autovacuum keeps them in production. Statistics: without them the
    planner takes a freshly bulk-loaded table for empty and picks plans production never
    sees. On PostgreSQL, the visibility map too: since PostgreSQL 13 autovacuum also runs
    after inserts (``autovacuum_vacuum_insert_threshold``), so a company's tables are all
    visible a minute after a bulk load, and an index-only scan reads no table row; never
    vacuumed, as seeded, each scan visits every row (the colleague fingerprint over 13,698
    selfies: ~9 ms against ~1.5 ms)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def run(sizes: Sizes, media: Path, say: Callable[[str], None] = print,
        only: set[str] | None = None) -> Results:
    """Every benchmark on the database Django is set up with (migrated, any content)."""
    results = Results()
    wanted = only or {"pages", "import", "export", "jobs", "sweep"}
    tag = f"{random.Random().randrange(16**6):06x}"
    with bench_environment(media):
        started = time.perf_counter()
        small = seed_company(f"bench-s-{tag}", sizes.small, teams=min(sizes.teams, 3),
                             headshots=max(1, sizes.small // 3), media=media,
                             headshot_px=sizes.headshot_px)
        large = seed_company(f"bench-l-{tag}", sizes.large, teams=sizes.teams,
                             headshots=sizes.export, media=media, headshot_px=sizes.headshot_px)
        _analyze()
        say(f"seeded {small.people:,} and {large.people:,} people "
            f"in {time.perf_counter() - started:.1f} s")
        steps = (("pages", lambda: bench_pages(results, small, large, sizes.runs)),
                 ("import", lambda: bench_import(results, sizes, tag)),
                 ("export", lambda: bench_export(results, large, sizes.export, sizes.headshot_px)),
                 ("jobs", lambda: bench_jobs(results, small, large, sizes.jobs)),
                 ("sweep", lambda: bench_sweep(results, large, sizes.files, media)))
        for name, step in steps:
            if name in wanted:
                started = time.perf_counter()
                step()
                say(f"{name}: done in {time.perf_counter() - started:.1f} s")
    return results


def table(results: Results, sizes: Sizes) -> str:
    head = ("figure", f"{sizes.small:,} people", f"{sizes.large:,} people", "goal", "")
    rows = [head] + [(f.name, f.small, f.large, f.goal, f.result) for f in results.figures]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _database(url: str | None) -> tuple[str, Callable[[], None]]:
    """The database URL to use and how to drop it afterwards."""
    if not url:
        folder = Path(tempfile.mkdtemp(prefix="likeness-bench-db-"))
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: shutil.rmtree(folder, True)
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        raise SystemExit("--database-url must name PostgreSQL (or leave it out for SQLite)")
    name = config["NAME"]
    if "bench" not in name:
        raise SystemExit(f"refusing to drop and re-create {name!r}: its name must contain "
                         "'bench' (it is a throwaway database)")
    admin = dict(host=config.get("HOST") or None, port=config.get("PORT") or None,
                 user=config.get("USER") or None, password=config.get("PASSWORD") or None,
                 dbname="postgres", autocommit=True)

    def execute(sql: str) -> None:
        with psycopg.connect(**admin) as connection:
            connection.execute(sql)

    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{name}"')
    return url, lambda: execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000 people, 1,000 rows, 100 headshots, 10,000 files, 5 runs")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="PostgreSQL URL of a throwaway database (default: SQLite file)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--only", default="", help="comma-separated: pages,import,export,"
                        "jobs,sweep")
    for name, kind in (("large", int), ("import-rows", int), ("export", int), ("files", int),
                       ("runs", int), ("jobs", int)):
        parser.add_argument(f"--{name}", type=kind, help="override the size")
    args = parser.parse_args()
    sizes = Sizes.quick() if args.quick else Sizes()
    for name in ("large", "import_rows", "export", "files", "runs", "jobs"):
        if getattr(args, name) is not None:
            setattr(sizes, name, getattr(args, name))

    url, drop = _database(args.database_url or None)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.pop("REDIS_URL", None)  # in-process tasks and a local cache
    os.environ.pop("AWS_STORAGE_BUCKET_NAME", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    media = Path(tempfile.mkdtemp(prefix="likeness-bench-media-"))
    try:
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        print(f"migrated {connection.vendor} in {time.perf_counter() - started:.1f} s", flush=True)
        only = {s for s in args.only.split(",") if s} or None
        results = run(sizes, media, say=lambda line: print(line, flush=True), only=only)
        version = connection.cursor().connection.info.server_version \
            if connection.vendor == "postgresql" else None
        engine = (f"PostgreSQL {version // 10000}.{version % 10000}" if version
                  else f"SQLite {connection.Database.sqlite_version}")
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(media, ignore_errors=True)
        if not args.keep_db:
            drop()
    print()
    print(f"Scale benchmark: {engine}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
          f", {platform.machine()}; medians of {sizes.runs} requests after 2 warm-ups")
    print(table(results, sizes))
    print("BENCH_JSON " + json.dumps({"sizes": asdict(sizes), "engine": engine,
                                      "figures": [asdict(f) for f in results.figures],
                                      "values": results.values}))
    if any(f.result == "MISS" for f in results.figures):
        sys.exit(1)


if __name__ == "__main__":
    main()
