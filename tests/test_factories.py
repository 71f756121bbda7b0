"""Every model of ours has a factory, and a factory-made row keeps one company: anything it
points at that belongs to a company belongs to the same one."""

from __future__ import annotations

import pytest
from django.apps import apps

from core.tenancy import TenantModel
from teams.models import Company

from . import factories

OUR_APPS = ("teams", "generation", "billing", "privacy", "identity", "delivery")
FACTORIES = {f._meta.model: f for f in vars(factories).values()
             if isinstance(f, type) and issubclass(f, factories.factory.django.DjangoModelFactory)
             and getattr(f._meta, "model", None) is not None}
MODELS = [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]


def test_every_model_has_a_factory():
    missing = sorted(m._meta.label for m in MODELS if m not in FACTORIES)
    assert not missing, f"add a factory to tests/factories.py for: {', '.join(missing)}"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_a_factory_made_row_belongs_to_one_company(db, model):
    row = FACTORIES[model]()
    row.refresh_from_db()
    companies = {row.company_id} if isinstance(row, TenantModel) else set()
    for field in model._meta.concrete_fields:
        target = getattr(field, "related_model", None)
        if target is None or getattr(row, field.attname) is None:
            continue
        related = getattr(row, field.name)
        if isinstance(related, TenantModel):
            companies.add(related.company_id)
        elif isinstance(related, Company) and isinstance(row, TenantModel):
            assert related.pk == row.company_id
    assert len(companies) <= 1, companies


def test_factory_consent_records_extend_a_valid_chain(db):
    from privacy.services import consent_chain_verify

    first = factories.ConsentRecordFactory()
    factories.ConsentRecordFactory(notice=first.notice, event="withdrawn")
    assert consent_chain_verify(company=first.company) == []


def test_factory_credit_entries_keep_the_ledger_verifiable(db):
    from billing.ledger import ledger_verify

    first = factories.CreditEntryFactory()
    factories.CreditEntryFactory(company=first.company, amount=-3, reason="spent")
    assert ledger_verify(company_id=first.company_id) == []
