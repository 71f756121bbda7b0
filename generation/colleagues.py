"""The colleagues a candidate is checked against (the identity gate's "pulled towards a
colleague", ``generation.likeness``): each other person's selfie-embedding centroid.

Read from the company's ``ColleagueIndex`` row, not from every colleague's selfies: at 5,000
people that read cost each job about a second of parsing embeddings. The row says which
selfies it was made from (``fingerprint``: their count, highest and summed id, one indexed
aggregate). When they changed, only the people whose own selfies changed are read again;
the centroid of every other person is kept as it was.

No job uses a stale colleague: a selfie accepted or given its embedding changes the count,
a new selfie's id is higher than any before, and a deleted selfie or embedding drops the
whole row in the deletion's own transaction (``index_drop``), so no biometric data outlives
what it came from.

A worker keeps the index it read or made in memory for ``CACHE_SECONDS`` (a minute), so that
a company's jobs one after another do not read its megabytes each time. Every job still
checks that the row is there as the copy found it, and brings the copy up to the selfies
there are now: a copy whose row was dropped is never used, and goes at that company's next
job or when its minute is up, whichever comes first. A refresh that changes people's
centroids writes the row back at most every ``WRITE_BACK_SECONDS`` (five minutes): during a
roll-out nearly every job follows someone's upload, and each would otherwise rewrite
megabytes. So the row may be behind by a few uploads (never ahead of a deletion): whoever
reads it brings it up to date the same way.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True)
class _State:
    """The index as a row holds it, or as a worker's copy holds it."""

    members: np.ndarray  # int64 membership ids, ascending
    pairs: np.ndarray  # int64 (membership id, selfie id) rows, ascending
    centroids: np.ndarray  # float64, one row per member

    @classmethod
    def of(cls, index: ColleagueIndex) -> _State:
        members = np.frombuffer(index.members, dtype=np.int64)
        return cls(members=members,
                   pairs=np.frombuffer(index.selfies, dtype=np.int64).reshape(-1, 2),
                   centroids=(np.frombuffer(index.centroids, dtype=np.float64)
                              .reshape(len(members), -1) if len(members) else _NO_ROWS))


@dataclass(frozen=True)
class _Copy:
    read_at: float
    pk: int  # the row it came from...
    row: str  # ...that row's fingerprint then, and when the row was last written
    row_written: datetime | None
    made_from: str  # the selfies the copy is made from (newer than the row's, at times)
    state: _State


_cache: OrderedDict[int, _Copy] = OrderedDict()
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
    copy = _cached(company_id, head=head)
    if copy is not None and copy.made_from == now:
        state = copy.state
    else:
        if copy is not None:  # the row as this worker last saw it, and what it made since
            pk, row, row_written, state = copy.pk, copy.row, copy.row_written, copy.state
            made_from = copy.made_from
        else:
            index = _index(company_id) if head is not None else None
            if index is None:
                index = _index_new(company_id)
            pk, row, row_written = index.pk, index.fingerprint, index.updated_at
            state, made_from = _State.of(index), index.fingerprint
        if made_from != now:
            state, row, row_written = _refresh(company_id, pk=pk, row=row,
                                               row_written=row_written, state=state,
                                               made_from=made_from, now=now)
        if pk is not None and row is not None:
            _remember(company_id, _Copy(read_at=time.monotonic(), pk=pk, row=row,
                                        row_written=row_written, made_from=now, state=state))
    return state.centroids[state.members != exclude_membership][:MAX_COLLEAGUES]


def _cached(company_id: int, *, head: tuple[int, str] | None) -> _Copy | None:
    """This worker's copy, if the row it came from is still there as it was and the copy is
    under ``CACHE_SECONDS`` old; any other copy goes."""
    with _cache_lock:
        copy = _cache.get(company_id)
        if copy is None:
            return None
        if head != (copy.pk, copy.row) or time.monotonic() - copy.read_at > CACHE_SECONDS:
            del _cache[company_id]
            return None
        _cache.move_to_end(company_id)
        return copy


def _remember(company_id: int, copy: _Copy) -> None:
    with _cache_lock:
        _cache[company_id] = copy
        _cache.move_to_end(company_id)
        while len(_cache) > CACHE_COMPANIES:
            _cache.popitem(last=False)
        _sweep_later()


def _sweep_later() -> None:
    """One timer (under the lock): the minute is kept by a worker that gets no other job."""
    global _sweeper
    if _sweeper is None and _cache:
        due = min(copy.read_at for copy in _cache.values()) + CACHE_SECONDS - time.monotonic()
        _sweeper = threading.Timer(max(due, 0.0) + 0.01, _sweep)
        _sweeper.daemon = True
        _sweeper.start()


def _sweep() -> None:
    global _sweeper
    with _cache_lock:
        _sweeper = None
        limit = time.monotonic() - CACHE_SECONDS
        for company_id in [c for c, copy in _cache.items() if copy.read_at <= limit]:
            del _cache[company_id]
        _sweep_later()


def _index(company_id: int) -> ColleagueIndex | None:
    """The company's index row, its bytes read as bytes (``first_row_binary``)."""
    names = ("pk", "fingerprint", "members", "selfies", "centroids", "updated_at")
    row = first_row_binary(ColleagueIndex.objects.for_company(company_id).order_by()
                           .values_list(*names))
    return None if row is None else ColleagueIndex(company_id=company_id,
                                                   **dict(zip(names, row, strict=True)))


def _index_new(company_id: int) -> ColleagueIndex:
    """An empty row, committed, for a company without one: every refresh then writes by that
    row's id, so a deletion that drops the row meanwhile leaves the refresh nothing to write
    to (and one that comes after it waits for the write, then drops it): a refresh never
    brings back what a deletion dropped. Without the row (dropped at once): pk None."""
    try:
        with transaction.atomic():
            ColleagueIndex.objects.create(company_id=company_id, fingerprint="", members=b"",
                                          selfies=b"", centroids=b"")
    except IntegrityError:
        pass  # another worker made it meanwhile
    return _index(company_id) or ColleagueIndex(company_id=company_id, fingerprint="",
                                                members=b"", selfies=b"", centroids=b"")


def _changed(current: np.ndarray, before: np.ndarray) -> np.ndarray:
    """The people whose (membership id, selfie id) pairs differ between two sets of pairs."""
    if not len(current) or not len(before):
        return np.unique(np.concatenate([current[:, 0], before[:, 0]]))
    if max(current.max(), before.max()) >= 2**31:  # keys below would not fit: one by one
        a, b = _groups(current), _groups(before)
        return np.array(sorted(m for m in a.keys() | b.keys() if a.get(m) != b.get(m)),
                        dtype=np.int64)
    keys = [pairs[:, 0] * 2**32 + pairs[:, 1] for pairs in (current, before)]
    return np.unique(np.setxor1d(*keys, assume_unique=True) >> 32)


def _groups(pairs: np.ndarray) -> dict[int, tuple[int, ...]]:
    groups: dict[int, list[int]] = {}
    for member, selfie in pairs.reshape(-1, 2).tolist():
        groups.setdefault(member, []).append(selfie)
    return {member: tuple(ids) for member, ids in groups.items()}


def _pairs(queryset) -> np.ndarray:
    return np.array(list(queryset.order_by("membership_id", "id").values_list(
        "membership_id", "id")), dtype=np.int64).reshape(-1, 2)


def _added(company_id: int, *, made_from: str, now: str) -> np.ndarray | None:
    """The selfies added since ``made_from`` if that is all that changed, else None.

    Between two drops of the index the company's embedded selfies only grow (a deletion of
    either drops it; intake only adds): if the selfies past the old highest id make up the
    whole difference in count and in summed id, nothing else changed. A selfie accepted
    late under an older id (background intake) breaks the count: then everyone is read."""
    try:
        (n0, top0, sum0), (n1, _top1, sum1) = (
            tuple(int(part) for part in print_.split(":")) for print_ in (made_from, now))
    except ValueError:  # a new row's empty fingerprint
        return None
    added = _pairs(_embedded(company_id).filter(id__gt=top0))
    if n0 + len(added) != n1 or sum0 + int(added[:, 1].sum()) != sum1:
        return None
    return added


def _refresh(company_id: int, *, pk: int | None, row: str, row_written: datetime | None,
             state: _State, made_from: str,
             now: str) -> tuple[_State, str | None, datetime | None]:
    """``state`` (made from the selfies ``made_from`` says) brought up to the selfies there
    are now: the people whose selfies changed are read again. Returns it, and the row's
    fingerprint and time as they now stand: written back when new or older than
    ``WRITE_BACK_SECONDS`` (or when only the fingerprint moves); None when a deletion
    dropped the row meanwhile."""
    added = _added(company_id, made_from=made_from, now=now)
    if added is None:
        pairs = _pairs(_embedded(company_id))
    else:  # the state's people (up to the cap) and the new selfies; the cap is applied below
        pairs = np.concatenate([state.pairs, added])
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    # The first MAX_COLLEAGUES + 1 people: whoever the job is for, MAX_COLLEAGUES are left.
    within = np.unique(pairs[:, 0])[:MAX_COLLEAGUES + 1]
    if len(within):
        pairs = pairs[pairs[:, 0] <= within[-1]]
    changed = _changed(pairs, state.pairs)
    keep = np.isin(state.members, within) & ~np.isin(state.members, changed)
    members, centroids = state.members[keep], state.centroids[keep]
    reread = within[np.isin(within, changed)]
    if len(reread):
        chosen = _embedded(company_id).order_by("membership_id", "id")
        # A few people: by their ids; many (a first index): everyone up to the last of them.
        chosen = (chosen.filter(membership_id__in=reread.tolist()) if len(reread) <= 500
                  else chosen.filter(membership_id__lte=int(reread[-1])))
        wanted = set(reread.tolist())
        vectors: dict[int, list] = {}
        # As text, parsed by orjson: the same floats as the JSONField's own json.loads, in
        # 0.5 s rather than 1.1-1.5 s for 13,714 embeddings (measured).
        for member, text in chosen.annotate(text=Cast("face_embedding", TextField())) \
                .values_list("membership_id", "text"):
            if member in wanted:
                vectors.setdefault(member, []).append(orjson.loads(text))
        if vectors:
            fresh = sorted(vectors)
            members = np.concatenate([members, np.asarray(fresh, dtype=np.int64)])
            centroids = np.concatenate([centroids, np.stack(
                [np.mean(np.asarray(vectors[m], dtype=np.float64), axis=0) for m in fresh])])
            order = np.argsort(members, kind="stable")
            members, centroids = members[order], centroids[order]
    reshaped = not (np.array_equal(members, state.members) and len(changed) == 0)
    state = _State(members=members, pairs=pairs[np.isin(pairs[:, 0], members)],
                   centroids=centroids if len(members) else _NO_ROWS)
    written_at = timezone.now()
    due = (not row or row_written is None
           or (written_at - row_written).total_seconds() > WRITE_BACK_SECONDS)
    if pk is None:
        return state, None, None
    if not (due or not reshaped):
        # This worker's copy carries the change; the row keeps its megabytes for now.
        return state, row, row_written
    fields: dict = {"fingerprint": now, "updated_at": written_at}
    if reshaped:
        fields.update(members=state.members.tobytes(), selfies=state.pairs.tobytes(),
                      centroids=state.centroids.astype(np.float64).tobytes())
    written = update_binary(ColleagueIndex.objects.for_company(company_id).filter(pk=pk),
                            **fields)
    return (state, now, written_at) if written else (state, None, None)


def index_drop(company_id: int) -> None:
    """Forget the company's index (a selfie or an embedding is being deleted); the next job
    makes it again from the selfies that are left. Call it inside the deletion's
    transaction."""
    ColleagueIndex.objects.for_company(company_id).delete()
