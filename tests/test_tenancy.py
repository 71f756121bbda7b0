"""The fail-closed tenant queryset and the shape of every tenant-owned table."""

from __future__ import annotations

import pytest
from django.apps import apps

from billing.models import StripeEvent
from core.tenancy import TenantManager, TenantModel, UnscopedQueryError
from generation.models import ReplicateWebhook
from teams.models import Company, LoginToken, Membership, Team, User

from .factories import TeamFactory
from .helpers import tenant_models

# Tables that belong to no single company. Adding one here needs a reason.
GLOBAL_MODELS = {User, Company, LoginToken, ReplicateWebhook, StripeEvent}


def test_every_model_of_ours_is_tenant_owned_or_declared_global():
    ours = [m for m in apps.get_models() if m._meta.app_label in ("teams", "generation",
                                                                   "billing", "privacy")]
    for model in ours:
        if model in GLOBAL_MODELS:
            continue
        assert issubclass(model, TenantModel), f"{model.__name__} has no company"
        field = model._meta.get_field("company")
        assert not field.null, f"{model.__name__}.company must be non-null"
        assert isinstance(model._default_manager, TenantManager)


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m.__name__)
def test_unscoped_queries_fail_closed(db, model):
    qs = model.objects.all()
    for evaluate in (list, len, bool, lambda q: q.count(), lambda q: q.exists(),
                     lambda q: q.first(), lambda q: list(q.values("pk")),
                     lambda q: q.update(pk=0), lambda q: q.update_returning(pk=0),
                     lambda q: q.delete(),
                     lambda q: list(q.iterator())):
        with pytest.raises(UnscopedQueryError):
            evaluate(qs)
    with pytest.raises(UnscopedQueryError):
        model.objects.get(pk=1)
    with pytest.raises(UnscopedQueryError):
        model.objects.filter(pk=1).exists()


def test_scoped_queries_see_only_their_company(tenant_a, tenant_b):
    names_a = set(Team.objects.for_company(tenant_a.company).values_list("name", flat=True))
    TeamFactory(company=tenant_b.company, name="Bravo only")
    assert "Bravo only" not in set(
        Team.objects.for_company(tenant_a.company).values_list("name", flat=True)
    )
    assert names_a == {"Engineering"}
    # Scoping survives chaining, and a filter by the company itself also scopes.
    assert Team.objects.filter(company=tenant_b.company).filter(name__startswith="Bravo").count() == 1
    assert Membership.objects.for_company(tenant_a.company).exclude(role="owner").count() == 2


def test_unrelated_filters_do_not_scope(tenant_a):
    with pytest.raises(UnscopedQueryError):
        Membership.objects.filter(user=tenant_a.member.user).count()
    with pytest.raises(UnscopedQueryError):
        # Related managers other than the company's are unscoped too.
        list(tenant_a.team.memberships.all())
    with pytest.raises(UnscopedQueryError):
        Membership.objects.for_company(None)


def test_unscoped_escape_hatch_is_explicit(tenant_a, tenant_b):
    assert Membership.objects.unscoped().count() == 6


def test_update_returning_gives_back_only_its_companys_rows_as_they_now_stand(tenant_a,
                                                                             tenant_b):
    theirs = TeamFactory(company=tenant_b.company, name="Bravo")
    # Another company's row is not matched, not changed, not returned.
    assert Team.objects.for_company(tenant_a.company).filter(pk=theirs.pk).update_returning(
        name="Taken") == []
    theirs.refresh_from_db()
    assert theirs.name == "Bravo"
    (row,) = Team.objects.for_company(tenant_b.company).filter(pk=theirs.pk).update_returning(
        name="Bravo team")
    assert isinstance(row, Team) and row.pk == theirs.pk and row.name == "Bravo team"
    assert row.company_id == tenant_b.company.pk and row.created_at == theirs.created_at
    with pytest.raises(TypeError):  # as update(): a slice is not updated
        Team.objects.for_company(tenant_b.company)[:1].update_returning(name="Sliced")
    theirs.refresh_from_db()
    assert theirs.name == "Bravo team"


def test_update_returning_says_so_where_the_database_cannot_return_rows(tenant_a,
                                                                        monkeypatch):
    from django.db import connection

    monkeypatch.setattr(type(connection.features), "can_return_columns_from_insert", False)
    scoped = Team.objects.for_company(tenant_a.company)
    assert scoped.update_returning(name="Anything") is None
    assert set(scoped.values_list("name", flat=True)) == {"Engineering"}  # nothing written
