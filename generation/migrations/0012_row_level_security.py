"""On PostgreSQL, the second tenant wall on this app's tenant tables: row-level security
enabled and forced, with the tenant_wall policy (core/rls.py). SQLite: nothing."""

from django.db import migrations

from core.rls import rls_enable


class Migration(migrations.Migration):
    dependencies = [("generation", "0011_jobs_requeues_and_create_intents")]
    operations = [migrations.RunPython(*rls_enable(app_label="generation"))]
