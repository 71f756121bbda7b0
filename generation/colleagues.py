"""The colleagues a candidate is checked against (the identity gate's "pulled towards a
colleague", ``generation.likeness``): each other person's selfie-embedding centroid.

Read from the company's ``ColleagueIndex`` row, not from every colleague's selfies: at 5,000
people that read cost each job about a second of parsing embeddings. The row says which
selfies it was made from (``fingerprint``: their count, highest and summed id, one indexed
aggregate). When they changed, only the people whose own selfies changed are read again;
the centroid of every other person is kept as it was.

Nothing can make the row hold a stale colleague: a selfie accepted or given its embedding
changes the count, a new selfie's id is higher than any before, and a deleted selfie or
embedding drops the whole row in the deletion's own transaction (``index_drop``), so no
biometric data outlives what it came from.

A worker keeps the rows it read last in memory for ``CACHE_SECONDS`` (a minute), so that a
company's jobs one after another do not read its megabytes each time. Every job still
checks that the row is there and made from the selfies there are now: a copy whose row was
dropped is never used, and goes at that company's next job or when its minute is up,
whichever comes first. A refresh that changes people's centroids writes the row back at
most every ``WRITE_BACK_SECONDS`` (five minutes): during a roll-out nearly every job follows
someone's upload, and each would otherwise rewrite megabytes; in between, a worker brings
its copy up to date from the row as it stands.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np
import orjson
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from core.pg_binary import first_row_binary, update_binary

from .models import ColleagueIndex, Selfie

# How many colleagues' selfie centroids a job compares with (the identity rule's blend check).
MAX_COLLEAGUES = 5000
_NO_ROWS = np.zeros((0, 128), dtype=np.float64)  # likeness.EMBEDDING_SIZE (not imported: dlib)
CACHE_SECONDS = 60.0
CACHE_COMPANIES = 8
# A refresh that changes some people's centroids writes the row (megabytes) back at most
# this often; in between, each worker brings its copy up to date from the row it read.
WRITE_BACK_SECONDS = 300.0
# company id -> (read at, row id, the row's fingerprint, the copy's, members, centroids)
_cache: OrderedDict[int, tuple[float, int, str, str, np.ndarray, np.ndarray]] = OrderedDict()
_cache_lock = threading.Lock()
_sweeper: threading.Timer | None = None


def _embedded(company_id: int):
    return Selfie.objects.for_company(company_id).filter(status=Selfie.Status.ACCEPTED,
                                                          face_embedding__isnull=False)


def fingerprint(company_id: int) -> str:
    """Which embedded selfies the company has, in a few numbers (one index-only aggregate)."""
    found = _embedded(company_id).aggregate(n=Count("id"), top=Max("id"), total=Sum("id"))
    return f"{found['n']}:{found['top'] or 0}:{found['total'] or 0}"


def colleague_centroids(*, company_id: int, exclude_membership: int) -> np.ndarray:
    """Mean selfie embedding of each other person of the company who has one (at most
    ``MAX_COLLEAGUES``, lowest membership ids first), one row each."""
    now = fingerprint(company_id)
    head = ColleagueIndex.objects.for_company(company_id).values_list("pk", "fingerprint").first()
    found = _cached(company_id, head=head, now=now)
    if found is None:
        index = _index(company_id) if head is not None else None
        row = index.fingerprint if index is not None else None  # what the row says it holds
        if index is None or index.fingerprint != now:
            index, row = _index_refresh(company_id, index, now)
        members = np.frombuffer(index.members, dtype=np.int64)
        centroids = (np.frombuffer(index.centroids, dtype=np.float64).reshape(len(members), -1)
                     if len(members) else _NO_ROWS)
        if row is not None:
            _remember(company_id, (index.pk, row, now, members, centroids))
        found = members, centroids
    members, centroids = found
    return centroids[members != exclude_membership][:MAX_COLLEAGUES]


def _cached(company_id: int, *, head: tuple[int, str] | None,
            now: str) -> tuple[np.ndarray, np.ndarray] | None:
    """This worker's copy, if the row it came from is still there as it was, the copy is
    made from the selfies there are now, and it is under ``CACHE_SECONDS`` old; any other
    copy goes."""
    with _cache_lock:
        entry = _cache.get(company_id)
        if entry is None:
            return None
        read_at, pk, row, made_from, members, centroids = entry
        if (head != (pk, row) or made_from != now
                or time.monotonic() - read_at > CACHE_SECONDS):
            del _cache[company_id]
            return None
        _cache.move_to_end(company_id)
        return members, centroids


def _remember(company_id: int, entry: tuple[int, str, str, np.ndarray, np.ndarray]) -> None:
    with _cache_lock:
        _cache[company_id] = (time.monotonic(), *entry)
        _cache.move_to_end(company_id)
        while len(_cache) > CACHE_COMPANIES:
            _cache.popitem(last=False)
        _sweep_later()


def _sweep_later() -> None:
    """One timer (under the lock): the minute is kept by a worker that gets no other job."""
    global _sweeper
    if _sweeper is None and _cache:
        due = min(entry[0] for entry in _cache.values()) + CACHE_SECONDS - time.monotonic()
        _sweeper = threading.Timer(max(due, 0.0) + 0.01, _sweep)
        _sweeper.daemon = True
        _sweeper.start()


def _sweep() -> None:
    global _sweeper
    with _cache_lock:
        _sweeper = None
        limit = time.monotonic() - CACHE_SECONDS
        for company_id in [c for c, entry in _cache.items() if entry[0] <= limit]:
            del _cache[company_id]
        _sweep_later()


def _index(company_id: int) -> ColleagueIndex | None:
    """The company's index row, its bytes read as bytes (``first_row_binary``)."""
    names = ("pk", "fingerprint", "members", "selfies", "centroids", "updated_at")
    row = first_row_binary(ColleagueIndex.objects.for_company(company_id).order_by()
                           .values_list(*names))
    return None if row is None else ColleagueIndex(company_id=company_id,
                                                   **dict(zip(names, row, strict=True)))


def _groups(pairs: np.ndarray) -> dict[int, tuple[int, ...]]:
    groups: dict[int, list[int]] = {}
    for member, selfie in pairs.reshape(-1, 2).tolist():
        groups.setdefault(member, []).append(selfie)
    return {member: tuple(ids) for member, ids in groups.items()}


def _index_refresh(company_id: int, index: ColleagueIndex | None,
                   now: str) -> tuple[ColleagueIndex, str | None]:
    """The index brought up to date: the people whose selfies changed are read again. And
    the fingerprint the row holds now: ``now`` when it was written, its own when writing
    it back could wait (``WRITE_BACK_SECONDS``), None when a deletion dropped it meanwhile.

    A company without an index first gets an empty row, committed, and every refresh then
    writes by that row's id: a deletion that drops the row meanwhile leaves the refresh
    nothing to write to (and one that comes after it waits for the write, then drops it),
    so a refresh never brings back what a deletion dropped."""
    if index is None:
        try:
            with transaction.atomic():
                ColleagueIndex.objects.create(company_id=company_id, fingerprint="",
                                              members=b"", selfies=b"", centroids=b"")
        except IntegrityError:
            pass  # another worker made it meanwhile
        index = _index(company_id) or ColleagueIndex(company_id=company_id, fingerprint="",
                                                      members=b"", selfies=b"", centroids=b"")
    pairs = np.array(list(_embedded(company_id).order_by("membership_id", "id")
                          .values_list("membership_id", "id")), dtype=np.int64).reshape(-1, 2)
    # The first MAX_COLLEAGUES + 1 people: whoever the job is for, MAX_COLLEAGUES are left.
    everyone = _groups(pairs)
    current = {m: everyone[m] for m in sorted(everyone)[:MAX_COLLEAGUES + 1]}
    pairs = pairs[np.isin(pairs[:, 0], list(current))]
    before = _groups(np.frombuffer(index.selfies, dtype=np.int64))
    old_members = np.frombuffer(index.members, dtype=np.int64).tolist()
    old = (np.frombuffer(index.centroids, dtype=np.float64).reshape(len(old_members), -1)
           if old_members else _NO_ROWS)
    kept = {m: old[i] for i, m in enumerate(old_members) if before.get(m) == current.get(m)}
    changed = [m for m in current if m not in kept]
    fields: dict = {"fingerprint": now, "updated_at": timezone.now()}
    reshaped = bool(changed) or len(kept) != len(old_members)
    if reshaped:
        chosen = _embedded(company_id).order_by("membership_id", "id")
        # A few people: by their ids; many (a first index): everyone up to the last of them.
        chosen = (chosen.filter(membership_id__in=changed) if len(changed) <= 500
                  else chosen.filter(membership_id__lte=changed[-1]))
        wanted = set(changed)
        vectors: dict[int, list] = {}
        # As text, parsed by orjson: the same floats as the JSONField's own json.loads, in
        # 0.5 s rather than 1.1-1.5 s for 13,714 embeddings (measured).
        for member, text in chosen.annotate(text=Cast("face_embedding", TextField())) \
                .values_list("membership_id", "text"):
            if member in wanted:
                vectors.setdefault(member, []).append(orjson.loads(text))
        for member, group in vectors.items():
            kept[member] = np.mean(np.asarray(group, dtype=np.float64), axis=0)
        members = sorted(m for m in current if m in kept)
        fields.update(
            members=np.asarray(members, dtype=np.int64).tobytes(),
            selfies=pairs[np.isin(pairs[:, 0], members)].tobytes(),
            centroids=(np.stack([kept[m] for m in members]) if members else _NO_ROWS)
            .astype(np.float64).tobytes())
    row = index.fingerprint
    # New, or written back longer ago than WRITE_BACK_SECONDS: the megabytes go back now.
    # Otherwise this worker's copy carries the change, and the row only when nothing but
    # its fingerprint moves (a few bytes).
    due = (not row or index.updated_at is None
           or (fields["updated_at"] - index.updated_at).total_seconds() > WRITE_BACK_SECONDS)
    if index.pk is None:
        row = None
    elif due or not reshaped:
        written = update_binary(
            ColleagueIndex.objects.for_company(company_id).filter(pk=index.pk), **fields)
        row = now if written else None
    for name, value in fields.items():
        setattr(index, name, value)
    return index, row


def index_drop(company_id: int) -> None:
    """Forget the company's index (a selfie or an embedding is being deleted); the next job
    makes it again from the selfies that are left. Call it inside the deletion's
    transaction."""
    ColleagueIndex.objects.for_company(company_id).delete()
