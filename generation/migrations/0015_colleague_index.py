"""The colleague index (generation.colleagues) behind the tenant wall, and the selfie index
its fingerprint reads."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from core.rls import rls_enable


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0014_job_by_kind'),
        ('teams', '0013_member_ready_scan'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ColleagueIndex',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('fingerprint', models.CharField(max_length=80)),
                ('members', models.BinaryField()),
                ('selfies', models.BinaryField()),
                ('centroids', models.BinaryField()),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddIndex(
            model_name='selfie',
            index=models.Index(condition=models.Q(('face_embedding__isnull', False), ('status', 'accepted')), fields=['company', 'membership', 'id'], name='selfie_embedded_scan'),
        ),
        migrations.AddField(
            model_name='colleagueindex',
            name='company',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='teams.company'),
        ),
        migrations.AddConstraint(
            model_name='colleagueindex',
            constraint=models.UniqueConstraint(fields=('company',), name='colleague_index_one_per_company'),
        ),
        migrations.RunPython(*rls_enable(tables=["generation_colleagueindex"])),
    ]
