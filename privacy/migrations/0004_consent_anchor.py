"""The consent log's anchored head and signed checkpoints (core/anchoring.py), the heads of
existing chains, and on PostgreSQL: no TRUNCATE of the log, checkpoints that cannot change,
heads that only move forward."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION privacy_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION privacy_consenthead_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.company_id <> OLD.company_id OR NEW.entries <= OLD.entries THEN
        RAISE EXCEPTION 'privacy_consenthead only moves forward: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER privacy_consentrecord_no_truncate BEFORE TRUNCATE ON privacy_consentrecord
FOR EACH STATEMENT EXECUTE FUNCTION privacy_refuse_change();
CREATE TRIGGER privacy_consenthead_no_truncate BEFORE TRUNCATE ON privacy_consenthead
FOR EACH STATEMENT EXECUTE FUNCTION privacy_refuse_change();
CREATE TRIGGER privacy_consentcheckpoint_no_truncate BEFORE TRUNCATE ON privacy_consentcheckpoint
FOR EACH STATEMENT EXECUTE FUNCTION privacy_refuse_change();
CREATE TRIGGER privacy_consentcheckpoint_append_only
BEFORE UPDATE OR DELETE ON privacy_consentcheckpoint
FOR EACH ROW EXECUTE FUNCTION privacy_refuse_change();
CREATE TRIGGER privacy_consenthead_forward_only
BEFORE UPDATE OR DELETE ON privacy_consenthead
FOR EACH ROW EXECUTE FUNCTION privacy_consenthead_forward_only();
"""

DROP = """
DROP TRIGGER IF EXISTS privacy_consentrecord_no_truncate ON privacy_consentrecord;
DROP TRIGGER IF EXISTS privacy_consenthead_no_truncate ON privacy_consenthead;
DROP TRIGGER IF EXISTS privacy_consentcheckpoint_no_truncate ON privacy_consentcheckpoint;
DROP TRIGGER IF EXISTS privacy_consentcheckpoint_append_only ON privacy_consentcheckpoint;
DROP TRIGGER IF EXISTS privacy_consenthead_forward_only ON privacy_consenthead;
DROP FUNCTION IF EXISTS privacy_consenthead_forward_only();
DROP FUNCTION IF EXISTS privacy_refuse_change();
"""


def heads_of_existing_chains(apps, schema_editor):
    # The alias migrate runs on (--database migrate: the tables' owner), not default.
    db = schema_editor.connection.alias
    from core.anchoring import anchor_mac

    record_model = apps.get_model("privacy", "ConsentRecord")
    head_model = apps.get_model("privacy", "ConsentHead")
    company_ids = record_model.objects.using(db).values_list("company_id", flat=True).distinct()
    for company_id in sorted(set(company_ids)):
        records = record_model.objects.using(db).filter(company_id=company_id)
        last = records.order_by("-pk").first()
        entries = records.count()
        head_model.objects.using(db).create(
            company_id=company_id, entries=entries, head_hash=last.hash,
            mac=anchor_mac(log_name="consent", kind="head", company_id=company_id,
                           entries=entries, head_hash=last.hash))


def triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


def triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('privacy', '0003_retention_receipts_requests'),
        ('teams', '0007_membership_updated_at_trigger'),
    ]

    operations = [
        migrations.CreateModel(
            name='ConsentCheckpoint',
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
            name='ConsentHead',
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
                'constraints': [models.UniqueConstraint(fields=('company',), name='privacy_consenthead_one_per_company')],
            },
        ),
        migrations.RunPython(heads_of_existing_chains, migrations.RunPython.noop),
        migrations.RunPython(triggers, triggers_drop),
    ]
