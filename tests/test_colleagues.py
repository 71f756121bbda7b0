"""The colleague index: each job reads every colleague's centroid from one kept row, brought
up to date for the people whose selfies changed, and dropped with any selfie or embedding."""

from __future__ import annotations

import time

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generation import colleagues
from generation.colleagues import colleague_centroids, index_drop
from generation.deletion import embedding_clear, selfies_delete
from generation.likeness import COLLEAGUE_NEAR, identity_check
from generation.models import ColleagueIndex, Selfie
from generation.services.selfies import selfie_delete
from privacy.erasure import person_erase
from teams.models import Membership

from .factories import CompanyFactory, MembershipFactory, SelfieFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_copies_from_other_tests():
    """A worker's copies (and the timer that ends them) start afresh for each story."""
    with colleagues._cache_lock:
        if colleagues._sweeper is not None:
            colleagues._sweeper.cancel()
            colleagues._sweeper = None
        colleagues._cache.clear()


def _vector(seed: int) -> list[float]:
    return np.random.default_rng(seed).uniform(-0.2, 0.2, 128).tolist()


def _person(company, *seeds: int) -> Membership:
    member = MembershipFactory(company=company)
    for seed in seeds:
        SelfieFactory(membership=member, face_embedding=_vector(seed))
    return member


def _expected(company, exclude: int) -> np.ndarray:
    """What scoring computed before the index: every other person's mean, by membership id."""
    groups: dict[int, list] = {}
    for member, vector in (Selfie.objects.for_company(company)
                           .filter(status=Selfie.Status.ACCEPTED, face_embedding__isnull=False)
                           .exclude(membership_id=exclude).order_by("membership_id", "id")
                           .values_list("membership_id", "face_embedding")):
        groups.setdefault(member, []).append(vector)
    return np.array([np.mean(np.asarray(v, dtype=np.float64), axis=0)
                     for v in groups.values()]).reshape(-1, 128)


def _index(company) -> ColleagueIndex | None:
    return ColleagueIndex.objects.for_company(company).first()


def test_the_centroids_are_every_other_persons_mean_and_no_one_elses():
    company, other = CompanyFactory(), CompanyFactory()
    subject = _person(company, 1, 2)
    _person(company, 3, 4, 5)
    _person(company, 6)
    MembershipFactory(company=company)  # no selfie: no centroid
    SelfieFactory(membership=_person(company), face_embedding=None)  # no embedding either
    SelfieFactory(membership=_person(company, 7), face_embedding=_vector(8),
                  status=Selfie.Status.REJECTED)  # a rejected selfie does not count
    _person(other, 9)  # another company's people are not colleagues

    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)

    assert found.shape == (3, 128)
    assert np.array_equal(found, _expected(company, subject.pk))  # to the last bit
    assert _index(other) is None


def test_a_second_job_reads_the_kept_row_and_one_aggregate():
    company = CompanyFactory()
    subject = _person(company, 1)
    _person(company, 2)
    first = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)

    with CaptureQueriesContext(connection) as queries:
        again = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)

    # The fingerprint (and, on SQLite, the row: PostgreSQL's binary read is not logged);
    # nobody's selfies.
    assert 1 <= len(queries) <= 2
    assert not [q for q in queries.captured_queries if "generation_selfie\".\"id\"" in q["sql"]
                and "SUM" not in q["sql"]]
    assert np.array_equal(first, again)


def test_only_the_people_whose_selfies_changed_are_read_again():
    company = CompanyFactory()
    subject = _person(company, 1)
    steady, changing = _person(company, 2), _person(company, 3)
    colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    # Mark the steady person's kept centroid: a refresh that read them again would lose it.
    index = _index(company)
    members = np.frombuffer(index.members, dtype=np.int64).tolist()
    centroids = np.frombuffer(index.centroids, dtype=np.float64).reshape(len(members), -1).copy()
    centroids[members.index(steady.pk)] = 0.5
    ColleagueIndex.objects.for_company(company).update(centroids=centroids.tobytes())
    colleagues._cache.clear()  # a worker without a copy: it starts from the row

    SelfieFactory(membership=changing, face_embedding=_vector(4))
    newcomer = _person(company, 5)
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)

    expected = _expected(company, subject.pk)
    order = sorted([steady.pk, changing.pk, newcomer.pk])
    assert np.all(found[order.index(steady.pk)] == 0.5)  # kept, not read again
    for member in (changing, newcomer):
        assert np.array_equal(found[order.index(member.pk)], expected[order.index(member.pk)])


@pytest.mark.parametrize("how", ["retention", "embedding", "by the person", "erasure"])
def test_deleting_a_selfie_or_its_embedding_drops_the_index(how):
    company = CompanyFactory()
    subject = _person(company, 1)
    leaving = _person(company, 2, 3)
    colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert _index(company) is not None
    selfie = Selfie.objects.for_company(company).filter(membership=leaving).first()

    if how == "retention":
        selfies_delete([selfie], rule="selfies.max_age")
    elif how == "embedding":
        embedding_clear(selfie, rule="embeddings.selfie")
    elif how == "by the person":
        selfie_delete(company=company, actor=leaving, selfie=selfie)
    else:
        person_erase(company=company, membership=leaving, rule="erasure_request")

    assert _index(company) is None
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert np.array_equal(found, _expected(company, subject.pk))


def test_a_refresh_never_brings_back_an_index_a_deletion_dropped(monkeypatch):
    company = CompanyFactory()
    subject = _person(company, 1)
    _person(company, 2)
    real = colleagues._changed

    def deleted_meanwhile(current, before):
        index_drop(company.pk)  # a deletion commits while the refresh reads the selfies
        return real(current, before)

    monkeypatch.setattr(colleagues, "_changed", deleted_meanwhile)
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)

    assert found.shape == (1, 128)  # this job still has its colleagues...
    assert _index(company) is None  # ...but nothing was written back


def test_a_refresh_with_nobody_left_keeps_an_empty_index():
    company = CompanyFactory()
    subject = _person(company, 1)
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert found.shape == (0, 128)
    assert colleague_centroids(company_id=company.pk, exclude_membership=0).shape == (1, 128)


def test_the_colleague_rule_is_the_same_for_an_array_and_a_list():
    rng = np.random.default_rng(7)
    own = [rng.uniform(-0.2, 0.2, 128) for _ in range(3)]
    candidate = own[0] + rng.normal(0, 0.01, 128)
    far = [rng.uniform(-0.2, 0.2, 128) + 1.0 for _ in range(500)]
    # A blend: halfway to a colleague, within reach of both.
    colleague = own[0] + rng.normal(0, 0.05, 128)
    colleague *= 0.4 / np.linalg.norm(colleague - own[0])
    blend = (np.mean(own, axis=0) + colleague) / 2
    at_the_edge = blend + (np.ones(128) / np.sqrt(128)) * COLLEAGUE_NEAR  # exactly at reach
    everyone = [*far, colleague, at_the_edge]

    for probe in (candidate, blend):
        as_lists = identity_check(probe, own, colleagues=[list(v) for v in everyone])
        as_array = identity_check(probe, own, colleagues=np.array(everyone))
        assert as_lists == as_array
    assert "colleague" in identity_check(blend, own, colleagues=np.array(everyone)).failed


def test_at_most_max_colleagues_are_kept_lowest_ids_first(monkeypatch):
    monkeypatch.setattr(colleagues, "MAX_COLLEAGUES", 2)
    company = CompanyFactory()
    people = [_person(company, seed) for seed in range(4)]  # ids ascending
    expected = _expected(company, exclude=0)  # everyone's centroid, by membership id

    for_second = colleague_centroids(company_id=company.pk, exclude_membership=people[1].pk)
    for_last = colleague_centroids(company_id=company.pk, exclude_membership=people[3].pk)

    assert np.array_equal(for_second, expected[[0, 2]])
    assert np.array_equal(for_last, expected[[0, 1]])
    assert np.frombuffer(_index(company).members, dtype=np.int64).tolist() == [
        p.pk for p in people[:3]]


def test_a_change_past_the_cap_only_moves_the_fingerprint(monkeypatch):
    monkeypatch.setattr(colleagues, "MAX_COLLEAGUES", 1)
    company = CompanyFactory()
    first, _second, third = (_person(company, seed) for seed in range(3))  # third: past it
    colleague_centroids(company_id=company.pk, exclude_membership=first.pk)
    before = _index(company)

    SelfieFactory(membership=third, face_embedding=_vector(9))
    with CaptureQueriesContext(connection) as queries:
        colleague_centroids(company_id=company.pk, exclude_membership=first.pk)

    after = _index(company)
    assert after.fingerprint == colleagues.fingerprint(company.pk) != before.fingerprint
    assert bytes(after.centroids) == bytes(before.centroids)
    assert not [q for q in queries.captured_queries if "face_embedding\" FROM" in q["sql"]]


def test_a_workers_next_job_of_the_company_uses_its_copy_while_the_row_stands(monkeypatch):
    company = CompanyFactory()
    subject = _person(company, 1)
    _person(company, 2)
    first = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)

    def unread(_company_id):
        raise AssertionError("the row was read again")

    monkeypatch.setattr(colleagues, "_index", unread)
    assert np.array_equal(
        colleague_centroids(company_id=company.pk, exclude_membership=subject.pk), first)
    # Someone uploads: the copy is brought up to date from itself, the row not read.
    SelfieFactory(membership=_person(company), face_embedding=_vector(3))
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert np.array_equal(found, _expected(company, subject.pk))
    assert found.shape == (2, 128)


def test_a_copy_is_gone_after_its_minute_even_without_another_job(monkeypatch):
    monkeypatch.setattr(colleagues, "CACHE_SECONDS", 0.05)
    company = CompanyFactory()
    subject = _person(company, 1)
    _person(company, 2)
    colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert company.pk in colleagues._cache

    deadline = time.monotonic() + 5
    while company.pk in colleagues._cache and time.monotonic() < deadline:
        time.sleep(0.02)
    assert company.pk not in colleagues._cache


def test_between_write_backs_a_change_lives_in_the_workers_copy_not_the_row(monkeypatch):
    company = CompanyFactory()
    subject = _person(company, 1)
    _person(company, 2)
    colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    written = _index(company).fingerprint

    newcomer = _person(company, 3)  # an upload, then the next job
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)

    assert np.array_equal(found, _expected(company, subject.pk))
    assert _index(company).fingerprint == written  # the megabytes were not rewritten
    monkeypatch.setattr(colleagues, "_index", lambda _company_id: pytest.fail("row read"))
    again = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert np.array_equal(again, found)  # the next job: the worker's copy
    monkeypatch.undo()

    # A worker without the copy reads the row as it stands and brings it up to date too.
    colleagues._cache.clear()
    cold = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert np.array_equal(cold, found)

    # Once the row is older than WRITE_BACK_SECONDS, the next change is written back.
    monkeypatch.setattr(colleagues, "WRITE_BACK_SECONDS", 0.0)
    SelfieFactory(membership=newcomer, face_embedding=_vector(4))
    colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert _index(company).fingerprint == colleagues.fingerprint(company.pk) != written


def test_a_deletion_after_an_unwritten_change_still_takes_it_away():
    company = CompanyFactory()
    subject = _person(company, 1)
    _person(company, 2)
    colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    newcomer = _person(company, 3)
    colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)  # copy only

    selfies_delete(list(Selfie.objects.for_company(company).filter(membership=newcomer)),
                   rule="erasure_request")

    assert _index(company) is None
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert found.shape == (1, 128)
    assert np.array_equal(found, _expected(company, subject.pk))


@pytest.mark.parametrize("base", [1, 2**31])  # the second: keys too big to pack, one by one
def test_who_changed_is_everyone_whose_selfies_differ_and_no_one_else(base):
    before = np.array([[base, 10], [base, 11], [base + 1, 12], [base + 2, 13]], dtype=np.int64)
    current = np.array([[base, 10], [base, 11],  # the same
                        [base + 1, 12], [base + 1, 20],  # one more selfie
                        [base + 3, 21]], dtype=np.int64)  # new; base + 2 gone
    assert colleagues._changed(current, before).tolist() == [base + 1, base + 2, base + 3]
    assert colleagues._changed(current, current).tolist() == []
    assert colleagues._changed(current[:0], before).tolist() == [base, base + 1, base + 2]


def test_an_upload_is_read_alone_and_a_late_acceptance_reads_everyone(monkeypatch):
    company = CompanyFactory()
    subject = _person(company, 1)
    late = SelfieFactory(membership=_person(company), status=Selfie.Status.PENDING,
                         face_embedding=None)  # background intake: an id now, a verdict later
    _person(company, 2)
    colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    read: list[str] = []
    real = colleagues._pairs
    monkeypatch.setattr(colleagues, "_pairs", lambda qs: read.append(str(qs.query)) or real(qs))

    _person(company, 3)  # an upload: only the selfies past the last one known are read
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert np.array_equal(found, _expected(company, subject.pk))
    assert len(read) == 1 and '"id" >' in read[0]

    # The pending selfie is accepted now, under its older id: everyone's selfies are read.
    Selfie.objects.for_company(company).filter(pk=late.pk).update(
        status=Selfie.Status.ACCEPTED, face_embedding=_vector(4))
    found = colleague_centroids(company_id=company.pk, exclude_membership=subject.pk)
    assert np.array_equal(found, _expected(company, subject.pk))
    assert found.shape == (3, 128)
    assert len(read) == 3 and '"id" >' not in read[2]
