"""ApiKey, WebhookEndpoint and WebhookDelivery now live in delivery (delivery 0001): out of
this app's state only; the tables and their rows stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0010_membertally_status_left"),
        ("delivery", "0001_models_moved_from_teams_and_generation"),
    ]
    operations = [migrations.SeparateDatabaseAndState(state_operations=[
        migrations.DeleteModel("WebhookDelivery"),  # it points at WebhookEndpoint: first
        migrations.DeleteModel("WebhookEndpoint"),
        migrations.DeleteModel("ApiKey"),
    ])]
