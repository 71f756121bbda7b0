"""The admin lists other than people: their keyset pages and the counts the database keeps
for them (accepted selfies per person for batches, deletions per day for the privacy page)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from generation.models import Selfie
from privacy.deletion import receipt_write
from privacy.models import DeletionReceipt, DeletionTally
from teams.models import Membership
from teams.selectors import team_choices, team_menu

from .factories import MembershipFactory, TeamFactory, UserFactory
from .helpers import db_fingerprint

Status = Membership.Status


def _selfie(membership, n: int, status=Selfie.Status.ACCEPTED) -> Selfie:
    return Selfie.objects.create(
        company=membership.company, membership=membership, image_key=f"k{n}", thumb_key=f"t{n}",
        width=400, height=400, size_bytes=1, source_format="JPEG", status=status,
        content_sha256=hashlib.sha256(f"{membership.pk}:{n}".encode()).hexdigest())


def _accepted(membership) -> int:
    return Membership.objects.for_company(membership.company).get(
        pk=membership.pk).accepted_selfies


def test_each_person_s_count_of_accepted_selfies_follows_their_selfies(tenant_a):
    member = tenant_a.member
    selfies = [_selfie(member, n) for n in range(4)]
    _selfie(member, 9, status=Selfie.Status.REJECTED)
    assert _accepted(member) == 4
    Selfie.objects.for_company(tenant_a.company).filter(pk=selfies[0].pk).update(
        status=Selfie.Status.REJECTED)
    assert _accepted(member) == 3
    selfies[1].delete()
    Selfie.objects.for_company(tenant_a.company).filter(membership=member).delete()
    assert _accepted(member) == 0
    assert _accepted(tenant_a.admin) == 0


def test_the_batches_page_counts_who_is_ready_and_pages_who_is_not(tenant_a, settings):
    from .helpers import approved_look, consent_for

    settings.ADMIN_LIST_PAGE_SIZE = 2
    approved_look(tenant_a.company)  # nobody is included before a look is approved
    ready = []
    for n in range(3):
        person = MembershipFactory(company=tenant_a.company, status=Status.CONSENTED,
                                   user=UserFactory(email=f"r{n}@alpha.example"))
        consent_for(person)
        for k in range(4):
            _selfie(person, k)
        Membership.objects.for_company(tenant_a.company).filter(pk=person.pk).update(
            status=Status.UPLOADED)
        ready.append(person)
    waiting = []
    for n in range(3):
        person = MembershipFactory(company=tenant_a.company, status=Status.CONSENTED,
                                   user=UserFactory(email=f"w{n}@alpha.example",
                                                    full_name=f"Waiting {n}"))
        consent_for(person)
        _selfie(person, 0)
        waiting.append(person)
    url = reverse("generation:batches", kwargs={"company_slug": "alpha"})
    client = tenant_a.client_for(tenant_a.admin)
    html = client.get(url).content.decode()
    assert "<strong>3</strong> people are included" in html
    # Everyone left out is listed by name, a page at a time (the others of the tenant first).
    assert "Waiting 2" not in html and ">Next</a>" in html
    last = client.get(url + "?page=last").content.decode()
    assert "Waiting 2: 1 of 4 usable selfies" in last and "Waiting 0" not in last
    previous = last.split('">Previous</a>')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
    assert "before=" in previous
    assert "Waiting 0: 1 of 4 usable selfies" in client.get(url + previous).content.decode()


def test_deletions_are_counted_per_day_and_kind_as_receipts_are_written(tenant_a, tenant_b):
    company = tenant_a.company
    for n in range(3):
        receipt_write(company_id=company.pk, kind="selfie", object_ref=f"selfie:{n}",
                      subject_user_id=None, rule="retention")
    receipt_write(company_id=company.pk, kind="selfie", object_ref="selfie:0",
                  subject_user_id=None, rule="retention")  # the same object again: skipped
    DeletionReceipt.objects.bulk_create([DeletionReceipt(
        company=company, kind="candidate", object_ref=f"candidate:{n}", rule="retention",
        deleted_at=timezone.now() - timedelta(days=40 if n else 1)) for n in range(2)])
    receipt_write(company_id=tenant_b.company.pk, kind="selfie", object_ref="selfie:1",
                  subject_user_id=None, rule="retention")
    tallies = sorted((t.kind, t.n) for t in DeletionTally.objects.for_company(company))
    assert tallies == [("candidate", 1), ("candidate", 1), ("selfie", 3)]  # 3 days, 2 kinds
    html = tenant_a.client_for(tenant_a.admin).get(
        reverse("privacy:privacy_admin", kwargs={"company_slug": "alpha"})).content.decode()
    assert "<td>selfie</td><td>3</td>" in html and "<td>candidate</td><td>1</td>" in html


@pytest.mark.parametrize("name", ["generation:review", "generation:uniformity",
                                  "generation:batches", "generation:directory",
                                  "billing:billing", "privacy:privacy_admin", "teams:teams"])
def test_every_paged_admin_list_answers_a_garbled_link_with_a_400(tenant_a, tenant_b, name):
    url = reverse(name, kwargs={"company_slug": "alpha"})
    admin = tenant_a.client_for(tenant_a.admin)
    member, outsider = tenant_a.client_for(tenant_a.member), tenant_b.client_for(tenant_b.admin)
    before = db_fingerprint()
    for query in ("after=x", "before=0", "page=3", "after=123456789012345678901234"):
        response = admin.get(f"{url}?{query}")
        assert response.status_code == 400, (query, response.status_code)
        assert "This page link is not valid" in response.content.decode()
    assert admin.get(f"{url}?page=last").status_code == 200
    assert admin.get(f"{url}?after=999999").status_code == 200  # gone since: first page
    assert member.get(f"{url}?page=last").status_code == 403
    assert outsider.get(f"{url}?page=last").status_code == 404
    assert db_fingerprint() == before


def test_a_team_menu_without_sizes_is_the_team_choices_menu(tenant_a, tenant_b):
    # Review, uniformity and batches read team_menu (no tally per team) for a menu that
    # shows no sizes: the same teams, in the same order, the same <option>s.
    from django.template import engines

    for name in ("beta", "Alpha", "Ærø <&> \"q\"", "zeta", "Mid"):
        TeamFactory(company=tenant_a.company, name=name)
    TeamFactory(company=tenant_b.company, name="Other company")
    choices = team_choices(company=tenant_a.company)
    menu = team_menu(company=tenant_a.company)
    assert menu == [(pk, name, None) for pk, name, _size in choices]
    assert "Other company" not in {name for _pk, name, _size in menu}
    options = engines["django"].from_string("{% load lists %}{% team_options teams chosen %}")
    for chosen in (None, "", menu[2][0]):
        assert options.render({"teams": menu, "chosen": chosen}) == options.render(
            {"teams": choices, "chosen": chosen})
