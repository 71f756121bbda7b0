"""On PostgreSQL, the consent log refuses UPDATE and DELETE at the database itself."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION privacy_consentrecord_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'privacy_consentrecord is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER privacy_consentrecord_append_only
BEFORE UPDATE OR DELETE ON privacy_consentrecord
FOR EACH ROW EXECUTE FUNCTION privacy_consentrecord_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS privacy_consentrecord_append_only ON privacy_consentrecord;
DROP FUNCTION IF EXISTS privacy_consentrecord_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
