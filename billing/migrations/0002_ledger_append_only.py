"""On PostgreSQL, the credit ledger refuses UPDATE and DELETE at the database itself."""

from django.db import migrations

from core.db import append_only


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(*append_only("billing_creditentry"))]
