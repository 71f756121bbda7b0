"""DirectoryConnection and DirectorySync now live in delivery (delivery 0001): out of this
app's state only; the tables and their rows stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0008_candidate_gates"),
        ("delivery", "0001_models_moved_from_teams_and_generation"),
    ]
    operations = [migrations.SeparateDatabaseAndState(state_operations=[
        migrations.DeleteModel("DirectorySync"),  # it points at DirectoryConnection: first
        migrations.DeleteModel("DirectoryConnection"),
    ])]
