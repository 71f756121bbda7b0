from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("generation", "0012_row_level_security")]

    operations = [
        migrations.AddField(
            model_name="generationjob",
            name="sample_portrait",
            field=models.BooleanField(default=False),
        ),
    ]
