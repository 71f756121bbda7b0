"""Every Celery task of the project chose how it meets the database's tenant wall.

A task runs outside any request, with no company named: unless it is a ``company_task``
(which names the company its ids belong to) or an ``rls_bypass`` (a named maintenance sweep
over every company), it sees no tenant row under ``DB_ROW_LEVEL_SECURITY`` and fails
closed in production only. Walking the registry means a new task cannot forget.
"""

from __future__ import annotations

from celery import current_app

from core.rls import company_task, rls_bypass

PROJECT_APPS = ("core.", "teams.", "identity.", "privacy.", "billing.", "generation.",
                "delivery.")

# Tasks that read and write no tenant row at all, each with why.
NO_TENANT_ROWS = {
    "teams.send_email": "sends the message it is handed; touches no database",
}


def _project_tasks() -> dict:
    current_app.loader.import_default_modules()  # every app's tasks module, as a worker does
    return {name: task for name, task in current_app.tasks.items()
            if name.startswith(PROJECT_APPS)}


def _scope(task) -> str | None:
    return getattr(task.run, "rls", None)


def test_every_project_task_names_its_company_or_a_bypass():
    tasks = _project_tasks()
    assert "generation.run_offline_job" in tasks and "privacy.sweep" in tasks  # the walk works
    unscoped = sorted(name for name, task in tasks.items()
                      if _scope(task) is None and name not in NO_TENANT_ROWS)
    assert unscoped == [], f"tasks with neither company_task nor rls_bypass: {unscoped}"


def test_the_list_of_tasks_without_tenant_rows_names_only_real_tasks():
    tasks = _project_tasks()
    assert set(NO_TENANT_ROWS) <= set(tasks)
    assert all(_scope(tasks[name]) is None for name in NO_TENANT_ROWS)


def test_the_markers_are_what_the_walk_reads(db):
    @company_task(lambda company_id: company_id)
    def scoped(company_id):
        return company_id

    @rls_bypass("a test's sweep")
    def sweep():
        return "swept"

    def plain():
        return None

    assert scoped.rls == "company" and sweep.rls == "bypass: a test's sweep"
    assert not hasattr(plain, "rls")
    assert sweep() == "swept" and scoped(3) == 3
