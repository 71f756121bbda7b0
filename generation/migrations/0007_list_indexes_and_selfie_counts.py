"""Indexes for the keyset pages of the admin lists and the API; each person's count of
accepted selfies (Membership.accepted_selfies) kept by triggers on generation_selfie, so
"who is ready for a consistent batch" is an index count, not an aggregate of every selfie;
and a "pending" selfie status for photos being checked off the request path.
"""

from django.conf import settings
from django.db import migrations, models

POSTGRES = """
CREATE OR REPLACE FUNCTION generation_selfie_count() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'accepted' THEN
        UPDATE teams_membership SET accepted_selfies = accepted_selfies - 1
        WHERE id = OLD.membership_id AND accepted_selfies > 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'accepted' THEN
        UPDATE teams_membership SET accepted_selfies = accepted_selfies + 1
        WHERE id = NEW.membership_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER generation_selfie_count_write AFTER INSERT OR DELETE ON generation_selfie
FOR EACH ROW EXECUTE FUNCTION generation_selfie_count();
CREATE TRIGGER generation_selfie_count_update AFTER UPDATE OF status, membership_id
ON generation_selfie FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.membership_id IS DISTINCT FROM NEW.membership_id)
EXECUTE FUNCTION generation_selfie_count();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS generation_selfie_count_write ON generation_selfie;
DROP TRIGGER IF EXISTS generation_selfie_count_update ON generation_selfie;
DROP FUNCTION IF EXISTS generation_selfie_count();
"""
_UP = ("UPDATE teams_membership SET accepted_selfies = accepted_selfies + 1 "
       "WHERE id = NEW.membership_id;")
_DOWN = ("UPDATE teams_membership SET accepted_selfies = accepted_selfies - 1 "
         "WHERE id = OLD.membership_id AND accepted_selfies > 0;")
SQLITE = [
    f"""CREATE TRIGGER generation_selfie_count_insert AFTER INSERT ON generation_selfie
    FOR EACH ROW WHEN NEW.status = 'accepted' BEGIN {_UP} END;""",
    f"""CREATE TRIGGER generation_selfie_count_delete AFTER DELETE ON generation_selfie
    FOR EACH ROW WHEN OLD.status = 'accepted' BEGIN {_DOWN} END;""",
    f"""CREATE TRIGGER generation_selfie_count_update_old AFTER UPDATE OF status, membership_id
    ON generation_selfie FOR EACH ROW WHEN OLD.status = 'accepted'
    AND (NEW.status IS NOT OLD.status OR NEW.membership_id IS NOT OLD.membership_id)
    BEGIN {_DOWN} END;""",
    f"""CREATE TRIGGER generation_selfie_count_update_new AFTER UPDATE OF status, membership_id
    ON generation_selfie FOR EACH ROW WHEN NEW.status = 'accepted'
    AND (NEW.status IS NOT OLD.status OR NEW.membership_id IS NOT OLD.membership_id)
    BEGIN {_UP} END;""",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS generation_selfie_count_{name};"
               for name in ("insert", "delete", "update_old", "update_new")]
BACKFILL = """UPDATE teams_membership SET accepted_selfies = (
    SELECT count(*) FROM generation_selfie s
    WHERE s.membership_id = teams_membership.id AND s.status = 'accepted')"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # Filling in a count is not a change of anyone: keep updated_at as it is.
        schema_editor.execute("ALTER TABLE teams_membership DISABLE TRIGGER teams_membership_touch")
        schema_editor.execute(BACKFILL)
        schema_editor.execute("ALTER TABLE teams_membership ENABLE TRIGGER teams_membership_touch")
        schema_editor.execute(POSTGRES, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(BACKFILL)
        for statement in SQLITE:
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0006_directory_sync'),
        ('teams', '0009_membership_sort_name_and_member_tally'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='directorysync',
            index=models.Index(fields=['company', 'updated_at', 'id'], name='sync_by_change'),
        ),
        migrations.AddIndex(
            model_name='generationjob',
            index=models.Index(fields=['company', 'updated_at', 'id'], name='job_by_change'),
        ),
        migrations.AddIndex(
            model_name='headshot',
            index=models.Index(fields=['company', 'approved_at', 'id'], name='headshot_by_approval'),
        ),
        migrations.AlterField(
            model_name='selfie',
            name='status',
            field=models.CharField(choices=[('accepted', 'Accepted'), ('rejected', 'Rejected'), ('pending', 'Being checked')], max_length=10),
        ),
        migrations.RunPython(forwards, backwards),
    ]
