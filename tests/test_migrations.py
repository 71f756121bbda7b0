"""A database made before the API, webhook and directory models moved to delivery/ migrates
with every row in place: the move changes Django's state, never the tables (nor, on SQLite,
the triggers on them)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from delivery.models import ApiKey, DirectoryConnection, WebhookDelivery, WebhookEndpoint
from teams.models import Company

BEFORE_THE_MOVE = [("teams", "0010_membertally_status_left"),
                   ("generation", "0008_candidate_gates")]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_an_old_database_keeps_its_rows_when_the_models_move_to_delivery():
    _migrate([*BEFORE_THE_MOVE, ("delivery", None)])
    old = MigrationExecutor(connection).loader.project_state(BEFORE_THE_MOVE).apps
    company = old.get_model("teams", "Company").objects.create(name="Old", slug="old")
    old.get_model("teams", "ApiKey").objects.create(company_id=company.pk, name="sync",
                                                    prefix="lk_old", key_hash="h")
    endpoint = old.get_model("teams", "WebhookEndpoint").objects.create(
        company_id=company.pk, url="https://hooks.example.com/in", events=["job.ready"],
        secret="whsec_old")
    old.get_model("teams", "WebhookDelivery").objects.create(
        company_id=company.pk, endpoint_id=endpoint.pk, event_id="evt_old",
        event_type="job.ready", payload={"id": "evt_old"})
    old.get_model("generation", "DirectoryConnection").objects.create(
        company_id=company.pk, provider="slack", config={"scim_token": "xoxp-old"})

    _migrate(None)

    company = Company.objects.get(slug="old")
    assert ApiKey.objects.for_company(company).get().prefix == "lk_old"
    delivery = WebhookDelivery.objects.for_company(company).select_related("endpoint").get()
    assert delivery.endpoint.url == "https://hooks.example.com/in"
    assert DirectoryConnection.objects.for_company(company).get().config == {
        "scim_token": "xoxp-old"}
    assert WebhookEndpoint.objects.for_company(company).count() == 1
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_a_free_preview_made_before_the_ledger_recorded_it_is_appended_to_a_verifiable_ledger():
    """billing 0005 writes the line for a preview made before, as billing.services writes
    every line: the company's signed ledger head moves with it, so the ledger still verifies."""
    from billing.ledger import ledger_verify
    from billing.models import CreditEntry

    from .factories import CreditEntryFactory, GenerationJobFactory

    _migrate([("billing", "0004_credit_ledger_keyset_index")])
    job = GenerationJobFactory(watermarked=True)
    CreditEntryFactory(company=job.company, amount=5, reason="given before")
    _migrate(None)

    lines = CreditEntry.objects.for_company(job.company).order_by("pk")
    assert [line.kind for line in lines] == ["adjustment", "free_preview"]
    assert lines.last().job_ref == job.pk
    assert ledger_verify(company_id=job.company_id) == []

MEMBERSHIP_TRIGGERS = {"teams_membership_sort_name_insert", "teams_membership_sort_name_update",
                       "teams_membership_touch", "teams_membership_tally_insert",
                       "teams_membership_tally_update", "teams_membership_tally_delete"}


@pytest.mark.slow
def test_the_embedded_database_keeps_its_membership_triggers_after_every_migration(tmp_path):
    """SQLite (the embedded default) rebuilds a table to alter it, and a rebuilt table loses
    its triggers: the moves to delivery/ change Django's state only, so the triggers that
    keep the people lists' sort keys and tallies are still there at the end."""
    database = tmp_path / "db.sqlite3"
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "DATABASE_URL": f"sqlite:///{database}", "MEDIA_ROOT": str(tmp_path / "media")}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=root, env=env,
                   check=True, capture_output=True, timeout=300)
    with sqlite3.connect(database) as db:
        triggers = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'teams_membership'")}
    assert MEMBERSHIP_TRIGGERS <= triggers
