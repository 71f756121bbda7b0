"""The privacy page at company scale: an index for the data-request log's keyset pages, and
deletion receipts counted per day and kind by the database (DeletionTally), so "deletions in
the last 30 days" reads at most 30 × kinds rows instead of every receipt of the month.
PostgreSQL counts per statement (the sweeper inserts receipts a chunk at a time, and rows
skipped by ON CONFLICT are not in the transition table); SQLite per row.
"""

import django.db.models.deletion
from django.db import migrations, models

POSTGRES = """
CREATE OR REPLACE FUNCTION privacy_deletionreceipt_tally() RETURNS trigger AS $$
BEGIN
    INSERT INTO privacy_deletiontally (company_id, day, kind, n)
    SELECT company_id, (deleted_at AT TIME ZONE 'UTC')::date, kind, count(*)::integer
    FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (company_id, day, kind) DO UPDATE SET n = privacy_deletiontally.n + EXCLUDED.n;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER privacy_deletionreceipt_tally AFTER INSERT ON privacy_deletionreceipt
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION privacy_deletionreceipt_tally();

CREATE OR REPLACE FUNCTION privacy_company_tally_delete() RETURNS trigger AS $$
BEGIN
    DELETE FROM privacy_deletiontally WHERE company_id = OLD.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER privacy_company_tally_delete AFTER DELETE ON teams_company
FOR EACH ROW EXECUTE FUNCTION privacy_company_tally_delete();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS privacy_deletionreceipt_tally ON privacy_deletionreceipt;
DROP FUNCTION IF EXISTS privacy_deletionreceipt_tally();
DROP TRIGGER IF EXISTS privacy_company_tally_delete ON teams_company;
DROP FUNCTION IF EXISTS privacy_company_tally_delete();
"""
SQLITE = [
    """CREATE TRIGGER privacy_deletionreceipt_tally AFTER INSERT ON privacy_deletionreceipt
    FOR EACH ROW BEGIN
        INSERT INTO privacy_deletiontally (company_id, day, kind, n)
        VALUES (NEW.company_id, date(NEW.deleted_at), NEW.kind, 1)
        ON CONFLICT (company_id, day, kind) DO UPDATE SET n = n + 1;
    END;""",
    """CREATE TRIGGER privacy_company_tally_delete AFTER DELETE ON teams_company
    FOR EACH ROW BEGIN
        DELETE FROM privacy_deletiontally WHERE company_id = OLD.id;
    END;""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS privacy_deletionreceipt_tally;",
               "DROP TRIGGER IF EXISTS privacy_company_tally_delete;"]
BACKFILL = {
    "postgresql": """INSERT INTO privacy_deletiontally (company_id, day, kind, n)
        SELECT company_id, (deleted_at AT TIME ZONE 'UTC')::date, kind, count(*)
        FROM privacy_deletionreceipt GROUP BY 1, 2, 3""",
    "sqlite": """INSERT INTO privacy_deletiontally (company_id, day, kind, n)
        SELECT company_id, date(deleted_at), kind, count(*)
        FROM privacy_deletionreceipt GROUP BY 1, 2, 3""",
}


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in BACKFILL:
        return
    schema_editor.execute(BACKFILL[vendor])
    for statement in [POSTGRES] if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": [POSTGRES_DROP], "sqlite": SQLITE_DROP}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('privacy', '0005_leaver_policy'),
        ('teams', '0009_membership_sort_name_and_member_tally'),
    ]

    operations = [
        migrations.CreateModel(
            name='DeletionTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('kind', models.CharField(max_length=30)),
                ('n', models.IntegerField(default=0)),
            ],
        ),
        migrations.AddIndex(
            model_name='datasubjectrequest',
            index=models.Index(fields=['company', 'requested_at', 'id'], name='dsr_by_time'),
        ),
        migrations.AddField(
            model_name='deletiontally',
            name='company',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='teams.company'),
        ),
        migrations.AddConstraint(
            model_name='deletiontally',
            constraint=models.UniqueConstraint(fields=('company', 'day', 'kind'), name='one_deletion_tally_per_day_kind'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
