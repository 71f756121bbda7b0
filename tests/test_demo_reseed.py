"""Re-seeding the demo company (`manage.py demo`, `platform/bin/demo`) on PostgreSQL, whose
triggers keep the consent log and the credit ledger append-only: the old demo company is
retired (closed, erased, renamed), never deleted, and the triggers stay as strict as ever."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from billing.models import CreditEntry
from billing.services import credits_adjust
from generation.demo import demo_seed
from privacy.models import ConsentRecord
from teams.demo import DEMO_SLUG
from teams.models import Company, Membership, User

from .helpers import consent_for


def _use_the_demo(demo) -> None:
    """What a visitor does: an employee consents, the owner is given credits."""
    erin = Membership.objects.for_company(demo.company).get(user__email="erin@acme.example")
    consent_for(erin)
    credits_adjust(company=demo.company, amount=5, reason="demo", actor=demo.owner)


def test_the_demo_can_be_seeded_again_after_it_was_used(db):
    assert connection.vendor == "postgresql"
    first = demo_seed()
    _use_the_demo(first)
    second = demo_seed()  # refused by the append-only triggers before
    assert second.company.slug == DEMO_SLUG and second.company.pk != first.company.pk
    retired = Company.objects.get(pk=first.company.pk)
    assert retired.slug == f"{DEMO_SLUG}-retired-{retired.pk}" and retired.closed_at
    assert not Membership.objects.for_company(retired).exists()
    # The audit logs of the retired company are all there, and verify.
    assert ConsentRecord.objects.for_company(retired).count() == 1
    assert CreditEntry.objects.for_company(retired).count() == 1
    out = StringIO()
    call_command("consent_verify", stdout=out, stderr=out)
    call_command("ledger_verify", stdout=out, stderr=out)
    # The demo people sign in to the new company.
    assert User.objects.get(email="owner@acme.example").pk == second.owner.pk
    assert Membership.objects.for_company(second.company).filter(
        user__email="erin@acme.example").exists()
    demo_seed()  # and again
    assert Company.objects.filter(slug__startswith=f"{DEMO_SLUG}-retired-").count() == 2


def test_the_triggers_still_refuse_deleting_a_real_companys_logs(tenant_a):
    consent_for(tenant_a.member)
    credits_adjust(company=tenant_a.company, amount=1, reason="x", actor=None)
    for model in (ConsentRecord, CreditEntry):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic():
                model.objects.for_company(tenant_a.company).delete()


def test_the_demo_command_prints_the_sign_in(db):
    out = StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=out)
    assert out.getvalue().count("owner@acme.example") == 2
