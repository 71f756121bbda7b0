"""The people lists at company scale: a sort key on the membership and counts per team and
status, both kept by the database.

- ``Membership.sort_name``: the user's name (or e-mail) in lower case, set by triggers when a
  membership is written and when a user's name or e-mail changes, so the alphabetical lists
  page on an index of teams_membership alone (keyset pagination) instead of joining and
  sorting every user of the company on each request.
- ``MemberTally``: people per (company, team, status), kept by triggers on every insert,
  update and delete of a membership (bulk ones and cascades included), so the dashboard's
  counts and the teams' sizes are a read of a few rows instead of an aggregate of the company.

Triggers rather than code in the services: memberships change through bulk_create,
queryset.update() and cascading deletes in many places, and a count that one of them
forgets is wrong for good. PostgreSQL counts per statement (transition tables), so a bulk
import of 10,000 people updates each tally once; SQLite has row triggers only.
"""

import django.db.models.deletion
from django.db import migrations, models

SORT_KEY = "lower(coalesce(nullif({u}.full_name, ''), {u}.email))"

POSTGRES = f"""
CREATE OR REPLACE FUNCTION teams_membership_sort_name() RETURNS trigger AS $$
BEGIN
    SELECT {SORT_KEY.format(u="u")} INTO NEW.sort_name FROM teams_user u WHERE u.id = NEW.user_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER teams_membership_sort_name BEFORE INSERT OR UPDATE ON teams_membership
FOR EACH ROW EXECUTE FUNCTION teams_membership_sort_name();

CREATE OR REPLACE FUNCTION teams_user_sort_name() RETURNS trigger AS $$
BEGIN
    UPDATE teams_membership SET sort_name = {SORT_KEY.format(u="NEW")} WHERE user_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER teams_user_sort_name AFTER UPDATE OF full_name, email ON teams_user
FOR EACH ROW WHEN (OLD.full_name IS DISTINCT FROM NEW.full_name
                   OR OLD.email IS DISTINCT FROM NEW.email)
EXECUTE FUNCTION teams_user_sort_name();

-- Tallies are changed in key order, so two statements never wait on each other's rows
-- in opposite orders.
CREATE OR REPLACE FUNCTION teams_membership_tally_insert() RETURNS trigger AS $$
BEGIN
    INSERT INTO teams_membertally (company_id, team_key, status, n)
    SELECT company_id, coalesce(team_id, 0), status, count(*)::integer
    FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (company_id, team_key, status)
    DO UPDATE SET n = teams_membertally.n + EXCLUDED.n;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER teams_membership_tally_insert AFTER INSERT ON teams_membership
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION teams_membership_tally_insert();

CREATE OR REPLACE FUNCTION teams_membership_tally_update() RETURNS trigger AS $$
BEGIN
    INSERT INTO teams_membertally (company_id, team_key, status, n)
    SELECT company_id, team_key, status, sum(n)::integer FROM (
        SELECT company_id, coalesce(team_id, 0) AS team_key, status, 1 AS n FROM new_rows
        UNION ALL
        SELECT company_id, coalesce(team_id, 0), status, -1 FROM old_rows
    ) AS change GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (company_id, team_key, status)
    DO UPDATE SET n = teams_membertally.n + EXCLUDED.n;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER teams_membership_tally_update AFTER UPDATE ON teams_membership
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION teams_membership_tally_update();

-- Deletes only lower existing tallies (never insert): a company being deleted must not get
-- new rows from its cascade.
CREATE OR REPLACE FUNCTION teams_membership_tally_delete() RETURNS trigger AS $$
DECLARE
    gone record;
BEGIN
    FOR gone IN SELECT company_id, coalesce(team_id, 0) AS team_key, status,
                       count(*)::integer AS n
                FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LOOP
        UPDATE teams_membertally SET n = n - gone.n
        WHERE company_id = gone.company_id AND team_key = gone.team_key
          AND status = gone.status;
    END LOOP;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER teams_membership_tally_delete AFTER DELETE ON teams_membership
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION teams_membership_tally_delete();

CREATE OR REPLACE FUNCTION teams_company_tally_delete() RETURNS trigger AS $$
BEGIN
    DELETE FROM teams_membertally WHERE company_id = OLD.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER teams_company_tally_delete AFTER DELETE ON teams_company
FOR EACH ROW EXECUTE FUNCTION teams_company_tally_delete();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS teams_membership_sort_name ON teams_membership;
DROP FUNCTION IF EXISTS teams_membership_sort_name();
DROP TRIGGER IF EXISTS teams_user_sort_name ON teams_user;
DROP FUNCTION IF EXISTS teams_user_sort_name();
DROP TRIGGER IF EXISTS teams_membership_tally_insert ON teams_membership;
DROP FUNCTION IF EXISTS teams_membership_tally_insert();
DROP TRIGGER IF EXISTS teams_membership_tally_update ON teams_membership;
DROP FUNCTION IF EXISTS teams_membership_tally_update();
DROP TRIGGER IF EXISTS teams_membership_tally_delete ON teams_membership;
DROP FUNCTION IF EXISTS teams_membership_tally_delete();
DROP TRIGGER IF EXISTS teams_company_tally_delete ON teams_company;
DROP FUNCTION IF EXISTS teams_company_tally_delete();
"""

# SQLite: row triggers only, and no assignment to NEW: the sort key is written by a second
# UPDATE after the row's own. Its lower() folds ASCII letters only.
_SQLITE_KEY = "(SELECT " + SORT_KEY.format(u="u") + " FROM teams_user u WHERE u.id = NEW.user_id)"
_TALLY_UP = """INSERT INTO teams_membertally (company_id, team_key, status, n)
        VALUES (NEW.company_id, coalesce(NEW.team_id, 0), NEW.status, 1)
        ON CONFLICT (company_id, team_key, status) DO UPDATE SET n = n + 1;"""
_TALLY_DOWN = """UPDATE teams_membertally SET n = n - 1 WHERE company_id = OLD.company_id
        AND team_key = coalesce(OLD.team_id, 0) AND status = OLD.status;"""
SQLITE = [
    f"""CREATE TRIGGER teams_membership_sort_name_insert AFTER INSERT ON teams_membership
    FOR EACH ROW BEGIN
        UPDATE teams_membership SET sort_name = {_SQLITE_KEY} WHERE id = NEW.id;
    END;""",
    f"""CREATE TRIGGER teams_membership_sort_name_update AFTER UPDATE ON teams_membership
    FOR EACH ROW WHEN NEW.sort_name IS NOT {_SQLITE_KEY} BEGIN
        UPDATE teams_membership SET sort_name = {_SQLITE_KEY} WHERE id = NEW.id;
    END;""",
    f"""CREATE TRIGGER teams_user_sort_name AFTER UPDATE OF full_name, email ON teams_user
    FOR EACH ROW WHEN OLD.full_name IS NOT NEW.full_name OR OLD.email IS NOT NEW.email BEGIN
        UPDATE teams_membership SET sort_name = {SORT_KEY.format(u="NEW")}
        WHERE user_id = NEW.id;
    END;""",
    # Setting the sort key of a new row is not a change of the person: keep its updated_at
    # (migration 0007's trigger otherwise stamps every UPDATE).
    "DROP TRIGGER IF EXISTS teams_membership_touch;",
    """CREATE TRIGGER teams_membership_touch AFTER UPDATE ON teams_membership
    FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at AND OLD.sort_name <> '' BEGIN
        UPDATE teams_membership SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
        WHERE id = NEW.id;
    END;""",
    f"""CREATE TRIGGER teams_membership_tally_insert AFTER INSERT ON teams_membership
    FOR EACH ROW BEGIN
        {_TALLY_UP}
    END;""",
    f"""CREATE TRIGGER teams_membership_tally_update AFTER UPDATE OF status, team_id
    ON teams_membership FOR EACH ROW
    WHEN OLD.status IS NOT NEW.status OR OLD.team_id IS NOT NEW.team_id BEGIN
        {_TALLY_DOWN}
        {_TALLY_UP}
    END;""",
    f"""CREATE TRIGGER teams_membership_tally_delete AFTER DELETE ON teams_membership
    FOR EACH ROW BEGIN
        {_TALLY_DOWN}
    END;""",
    """CREATE TRIGGER teams_company_tally_delete AFTER DELETE ON teams_company
    FOR EACH ROW BEGIN
        DELETE FROM teams_membertally WHERE company_id = OLD.id;
    END;""",
]
SQLITE_DROP = [
    *(f"DROP TRIGGER IF EXISTS {name};" for name in (
        "teams_membership_sort_name_insert", "teams_membership_sort_name_update",
        "teams_user_sort_name", "teams_membership_tally_insert", "teams_membership_tally_update",
        "teams_membership_tally_delete", "teams_company_tally_delete", "teams_membership_touch")),
    """CREATE TRIGGER teams_membership_touch AFTER UPDATE ON teams_membership
    FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at BEGIN
        UPDATE teams_membership SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
        WHERE id = NEW.id;
    END;""",
]

BACKFILL_SORT = ("UPDATE teams_membership SET sort_name = (SELECT " + SORT_KEY.format(u="u")
                 + " FROM teams_user u WHERE u.id = teams_membership.user_id)")
BACKFILL_TALLY = """INSERT INTO teams_membertally (company_id, team_key, status, n)
SELECT company_id, coalesce(team_id, 0), status, count(*) FROM teams_membership
GROUP BY company_id, coalesce(team_id, 0), status"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # Filling in the key is not a change of anyone: keep updated_at as it is.
        schema_editor.execute("ALTER TABLE teams_membership DISABLE TRIGGER teams_membership_touch")
        schema_editor.execute(BACKFILL_SORT)
        schema_editor.execute("ALTER TABLE teams_membership ENABLE TRIGGER teams_membership_touch")
        schema_editor.execute(BACKFILL_TALLY)
        schema_editor.execute(POSTGRES, params=None)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS teams_membership_touch;")
        schema_editor.execute(BACKFILL_SORT)
        schema_editor.execute(BACKFILL_TALLY)
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
        ('teams', '0008_membership_left_invitation_sources_scim_sso'),
    ]

    operations = [
        migrations.CreateModel(
            name='MemberTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('team_key', models.BigIntegerField()),
                ('status', models.CharField(choices=[('invited', 'Invited'), ('joined', 'Joined'), ('consented', 'Consented'), ('uploaded', 'Uploaded'), ('generating', 'Generating'), ('review', 'Ready for review'), ('approved', 'Approved'), ('withdrawn', 'Consent withdrawn')], max_length=12)),
                ('n', models.IntegerField(default=0)),
            ],
        ),
        migrations.RemoveIndex(
            model_name='membership',
            name='teams_membe_company_b795a5_idx',
        ),
        migrations.AddField(
            model_name='membership',
            name='sort_name',
            field=models.CharField(default='', editable=False, max_length=254),
        ),
        migrations.AddIndex(
            model_name='membership',
            index=models.Index(fields=['company', 'sort_name', 'id'], name='member_by_name'),
        ),
        migrations.AddIndex(
            model_name='membership',
            index=models.Index(fields=['company', 'status', 'sort_name', 'id'], name='member_by_status_name'),
        ),
        migrations.AddIndex(
            model_name='membership',
            index=models.Index(fields=['company', 'team', 'sort_name', 'id'], name='member_by_team_name'),
        ),
        migrations.AddIndex(
            model_name='membership',
            index=models.Index(fields=['company', 'updated_at', 'id'], name='member_by_change'),
        ),
        migrations.AddField(
            model_name='membership',
            name='accepted_selfies',
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddIndex(
            model_name='membership',
            index=models.Index(fields=['company', 'status', 'accepted_selfies'], name='member_by_status_selfies'),
        ),
        migrations.AddField(
            model_name='membertally',
            name='company',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='teams.company'),
        ),
        migrations.AddConstraint(
            model_name='membertally',
            constraint=models.UniqueConstraint(fields=('company', 'team_key', 'status'), name='one_tally_per_team_status'),
        ),
        migrations.AddIndex(
            model_name='invitation',
            index=models.Index(condition=models.Q(('accepted_at__isnull', True), ('revoked_at__isnull', True), ('sent_at__isnull', True)), fields=['company'], name='invitation_unsent'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(fields=['endpoint', 'created_at', 'id'], name='delivery_by_endpoint_time'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
