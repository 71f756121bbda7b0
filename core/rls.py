"""The second tenant wall: PostgreSQL row-level security.

The first wall is the application's (``core/tenancy.py``: a query never narrowed to one
company raises). This one is the database's: every tenant table (every model with a
non-null foreign key to ``settings.TENANT_MODEL``) has ROW LEVEL SECURITY enabled *and
forced* (so the tables' owner is held to it too, unless it is a superuser) and one policy,
``tenant_wall``: a row is visible, and may be written, only when its ``company_id`` is the
company the transaction named with ``app.company_id``, or while an explicit, named bypass
is open (``app.rls_bypass``). With neither set, a role that is not a superuser sees nothing
and can write nothing: the wall fails closed.

* A request of a company names it once the company is resolved (``teams/decorators.py``
  wraps the view in :func:`company_scope`); a task that takes a company does the same
  (:func:`company_scope`, or :func:`company_task` around the task's body).
* Lookups that find the company from something else (a token's hash, a signed-in person's
  own memberships) and the maintenance sweeps over every company use :func:`rls_bypass`
  with a reason; they are few and listed in the README ("Row-level security").
* The setting ``DB_ROW_LEVEL_SECURITY`` turns the scoping on. Off (the embedded default,
  and any deployment that has not moved to it yet), the connections open the bypass for
  their whole session, so the application wall stands alone, as it always does on SQLite.

Both settings are custom GUCs any role may set: this wall stops a forgotten filter, a
wrong company or a raw query, not an attacker who can already run arbitrary SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ContextDecorator, contextmanager
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

COMPANY_SETTING = "app.company_id"
BYPASS_SETTING = "app.rls_bypass"
POLICY = "tenant_wall"

_CONDITION = (
    "(company_id = NULLIF(current_setting('app.company_id', true), '')::bigint"
    " OR current_setting('app.rls_bypass', true) = 'on')"
)

_ENABLE = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS {policy} ON {table};
CREATE POLICY {policy} ON {table} USING {condition} WITH CHECK {condition};
"""

_DISABLE = """
DROP POLICY IF EXISTS {policy} ON {table};
ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;
ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;
"""


# --- Which tables: the app registry (live, or a migration's historical one) ------------


def is_tenant_model(model: Any) -> bool:
    """A concrete, managed model with a non-null foreign key ``company`` to the tenant."""
    opts = model._meta
    if opts.abstract or opts.proxy or not opts.managed:
        return False
    try:
        field = opts.get_field("company")
    except Exception:  # FieldDoesNotExist: not a tenant table
        return False
    if not getattr(field, "many_to_one", False) or field.null:
        return False
    return field.related_model._meta.label_lower == settings.TENANT_MODEL.lower()


def tenant_tables(app_registry: Any = None, *, app_label: str | None = None) -> list[str]:
    """The tenant tables, sorted (of one app when ``app_label`` is given)."""
    if app_registry is None:
        from django.apps import apps as app_registry  # the live registry, when asked for it
    models = (app_registry.get_app_config(app_label).get_models() if app_label
              else app_registry.get_models())
    return sorted({m._meta.db_table for m in models if is_tenant_model(m)})


# --- Migrations ----------------------------------------------------------------------------


def _execute(schema_editor: Any, template: str, tables: list[str]) -> None:
    quote = schema_editor.connection.ops.quote_name
    for table in tables:
        schema_editor.execute(
            template.format(table=quote(table), policy=POLICY, condition=_CONDITION), params=None)


def rls_enable(*, app_label: str | None = None,
               tables: list[str] | None = None) -> tuple[Callable, Callable]:
    """RunPython's (forwards, backwards): the wall on the tenant tables of ``app_label`` as
    the migration's state has them (or on the named ``tables``). PostgreSQL only; the
    embedded SQLite keeps the application wall alone.

    A migration that adds a tenant table later runs ``rls_enable(tables=[...])``;
    ``manage.py rls_check`` (and the test suite) finds one that was forgotten.
    """

    def chosen(apps: Any) -> list[str]:
        return list(tables) if tables is not None else tenant_tables(apps, app_label=app_label)

    def forwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            _execute(schema_editor, _ENABLE, chosen(apps))

    def backwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            _execute(schema_editor, _DISABLE, chosen(apps))

    return forwards, backwards


def tables_without_wall(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Tenant tables lacking any of: RLS enabled, RLS forced, the ``tenant_wall`` policy.
    Empty on a database other than PostgreSQL (there is no such wall there)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    expected = tenant_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = ANY(%s)
              AND c.relrowsecurity AND c.relforcerowsecurity
              AND EXISTS (SELECT 1 FROM pg_policy p
                          WHERE p.polrelid = c.oid AND p.polname = %s)
            """,
            [expected, POLICY],
        )
        walled = {row[0] for row in cursor.fetchall()}
    return [table for table in expected if table not in walled]


# --- At run time: naming the company, and the few explicit bypasses ---------------------


def rls_active(using: str = DEFAULT_DB_ALIAS) -> bool:
    return (getattr(settings, "DB_ROW_LEVEL_SECURITY", False)
            and connections[using].vendor == "postgresql")


@contextmanager
def _gucs(values: dict[str, str], using: str) -> Iterator[None]:
    """Set custom settings for the block and put back what was there before.

    Inside a transaction they are SET LOCAL (``set_config(..., true)``): they end with the
    transaction at the latest, and a rollback takes them back. Outside one (Django's
    autocommit, between transactions) they are set for the session and restored when the
    block ends, so a pooled connection never carries a company into the next request.
    """
    if not rls_active(using):
        yield
        return
    connection = connections[using]
    local = connection.in_atomic_block
    names = list(values)
    with connection.cursor() as cursor:
        select = ", ".join("current_setting(%s, true), set_config(%s, %s, %s)" for _ in names)
        params: list[Any] = []
        for name in names:
            params += [name, name, values[name], local]
        cursor.execute(f"SELECT {select}", params)
        row = cursor.fetchone()
    previous = {name: row[2 * i] or "" for i, name in enumerate(names)}
    try:
        yield
    finally:
        _restore(connection, previous, local)


def _restore(connection: Any, previous: dict[str, str], local: bool) -> None:
    if local and connection.needs_rollback:
        return  # the rollback about to happen takes the SET LOCAL back
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join("set_config(%s, %s, %s)" for _ in previous),
                           [v for name, value in previous.items() for v in (name, value, local)])
    except DatabaseError:
        if local:
            return  # an aborted transaction: its rollback ends the SET LOCAL
        # Outside a transaction a session whose settings could not be put back must not be
        # used again: closing it is the only way to be sure nothing leaks.
        connection.close()
        raise


@contextmanager
def company_scope(company_id: int | None, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Name the company whose rows the block may see and write (``app.company_id``)."""
    value = "" if company_id is None else str(int(company_id))
    with _gucs({COMPANY_SETTING: value}, using):
        yield


def company_set_local(company_id: int, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Name the company for the rest of the current transaction (SET LOCAL): for a service
    that learns its company inside its own transaction (from a token it was handed)."""
    if not rls_active(using):
        return
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("company_set_local outside a transaction: use company_scope")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [COMPANY_SETTING, str(int(company_id))])


class rls_bypass(ContextDecorator):
    """Cross the database wall for the block, on purpose.

    Only for lookups that *find* the company (a token's hash, a person's own memberships)
    and the maintenance sweeps over every company. ``reason`` is for the reader; every use
    is listed in the README. As a decorator it marks the function (``rls`` attribute), so
    tests/test_task_scopes.py can see that a Celery task chose it.
    """

    def __init__(self, reason: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
        if not reason:
            raise ValueError("rls_bypass needs a reason")
        self.reason, self.using = reason, using
        self._blocks: list[Any] = []

    def _recreate_cm(self) -> rls_bypass:
        return rls_bypass(self.reason, using=self.using)  # each call (and thread) its own block

    def __enter__(self) -> None:
        block = _gucs({BYPASS_SETTING: "on"}, self.using)
        block.__enter__()
        self._blocks.append(block)

    def __exit__(self, *exc: Any) -> bool | None:
        return self._blocks.pop().__exit__(*exc)

    def __call__(self, func: Callable) -> Callable:
        wrapper = super().__call__(func)
        wrapper.rls = f"bypass: {self.reason}"
        return wrapper


def company_of(model: Any, **lookup: Any) -> int | None:
    """The company of the row ``lookup`` finds, past the wall: how a task that is handed an
    id learns which company it works for (then :func:`company_task` names it)."""
    with rls_bypass("a task's id names its row's company"):
        return model._base_manager.filter(**lookup).values_list("company_id", flat=True).first()


def company_task(company_of: Callable[..., int | None]) -> Callable[[Callable], Callable]:
    """Run a task's body inside :func:`company_scope` of the company ``company_of(*args,
    **kwargs)`` names (which may look it up under :func:`rls_bypass`)."""

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with company_scope(company_of(*args, **kwargs)):
                return func(*args, **kwargs)

        wrapper.rls = "company"  # tests/test_task_scopes.py: the task chose its scope
        return wrapper

    return decorator
