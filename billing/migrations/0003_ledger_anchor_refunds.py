"""The ledger's anchored head and signed checkpoints (core/anchoring.py), refunds and
disputes (reversal entries, failed sessions), the heads of existing ledgers, and on
PostgreSQL: no TRUNCATE of the ledger, checkpoints that cannot change, heads that only move
forward."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION billing_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION billing_ledgerhead_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.company_id <> OLD.company_id OR NEW.entries <= OLD.entries THEN
        RAISE EXCEPTION 'billing_ledgerhead only moves forward: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_creditentry_no_truncate BEFORE TRUNCATE ON billing_creditentry
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER billing_ledgerhead_no_truncate BEFORE TRUNCATE ON billing_ledgerhead
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER billing_ledgercheckpoint_no_truncate BEFORE TRUNCATE ON billing_ledgercheckpoint
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER billing_ledgercheckpoint_append_only
BEFORE UPDATE OR DELETE ON billing_ledgercheckpoint
FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();
CREATE TRIGGER billing_ledgerhead_forward_only
BEFORE UPDATE OR DELETE ON billing_ledgerhead
FOR EACH ROW EXECUTE FUNCTION billing_ledgerhead_forward_only();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_creditentry_no_truncate ON billing_creditentry;
DROP TRIGGER IF EXISTS billing_ledgerhead_no_truncate ON billing_ledgerhead;
DROP TRIGGER IF EXISTS billing_ledgercheckpoint_no_truncate ON billing_ledgercheckpoint;
DROP TRIGGER IF EXISTS billing_ledgercheckpoint_append_only ON billing_ledgercheckpoint;
DROP TRIGGER IF EXISTS billing_ledgerhead_forward_only ON billing_ledgerhead;
DROP FUNCTION IF EXISTS billing_ledgerhead_forward_only();
DROP FUNCTION IF EXISTS billing_refuse_change();
"""


def heads_of_existing_ledgers(apps, schema_editor):
    # The alias migrate runs on (--database migrate: the tables' owner), not default.
    db = schema_editor.connection.alias
    from billing.ledger import ledger_entry_hash
    from core.anchoring import GENESIS, anchor_mac

    entry_model = apps.get_model("billing", "CreditEntry")
    head_model = apps.get_model("billing", "LedgerHead")
    company_ids = sorted(set(entry_model.objects.using(db).values_list("company_id", flat=True)))
    for company_id in company_ids:
        current, entries = GENESIS, 0
        for entry in entry_model.objects.using(db).filter(company_id=company_id).order_by("pk"):
            current, entries = ledger_entry_hash(current, entry), entries + 1
        head_model.objects.using(db).create(
            company_id=company_id, entries=entries, head_hash=current,
            mac=anchor_mac(log_name="ledger", kind="head", company_id=company_id,
                           entries=entries, head_hash=current))


def triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


def triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0002_ledger_append_only'),
        ('teams', '0007_membership_updated_at_trigger'),
    ]

    operations = [
        migrations.AlterField(
            model_name='checkoutsession',
            name='status',
            field=models.CharField(choices=[('open', 'Waiting for payment'), ('paid', 'Paid'), ('expired', 'Expired'), ('failed', 'Payment failed')], default='open', max_length=8),
        ),
        migrations.AlterField(
            model_name='creditentry',
            name='kind',
            field=models.CharField(choices=[('purchase', 'Purchase'), ('reservation', 'Reserved for a job'), ('consumption', 'Used by a delivered job'), ('refund', 'Returned from a job'), ('adjustment', 'Manual adjustment'), ('reversal', 'Payment refunded or disputed')], max_length=12),
        ),
        migrations.CreateModel(
            name='LedgerCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entries', models.PositiveBigIntegerField()),
                ('head_hash', models.CharField(max_length=64)),
                ('mac', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='teams.company')),
            ],
            options={
                'ordering': ['pk'],
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='LedgerHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entries', models.PositiveBigIntegerField(default=0)),
                ('head_hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
                ('mac', models.CharField(max_length=64)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='teams.company')),
            ],
            options={
                'abstract': False,
                'constraints': [models.UniqueConstraint(fields=('company',), name='billing_ledgerhead_one_per_company')],
            },
        ),
        migrations.RunPython(heads_of_existing_ledgers, migrations.RunPython.noop),
        migrations.RunPython(triggers, triggers_drop),
    ]
