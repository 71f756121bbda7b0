"""On PostgreSQL, the consent log refuses UPDATE and DELETE at the database itself."""

from django.db import migrations

from core.db import append_only


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]
    operations = [migrations.RunPython(*append_only("privacy_consentrecord"))]
