"""Membership.updated_at is set by the database on every UPDATE.

Status changes are made with queryset.update() across the services (atomic, no
read-modify-write), which Django's auto_now does not see; a trigger does, on both
databases the platform runs on. The API's `updated_since` relies on it.
"""

from django.db import migrations

POSTGRES = """
CREATE OR REPLACE FUNCTION teams_membership_touch() RETURNS trigger AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER teams_membership_touch
BEFORE UPDATE ON teams_membership
FOR EACH ROW EXECUTE FUNCTION teams_membership_touch();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS teams_membership_touch ON teams_membership;
DROP FUNCTION IF EXISTS teams_membership_touch();
"""
# SQLite has no BEFORE-row assignment: update the row again after (recursive triggers are
# off by default, so this does not fire itself).
SQLITE = """
CREATE TRIGGER teams_membership_touch AFTER UPDATE ON teams_membership
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE teams_membership SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
    WHERE id = NEW.id;
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS teams_membership_touch;"


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("teams", "0006_api_keys_webhooks_membership_updated_at")]
    operations = [migrations.RunPython(forwards, backwards)]
