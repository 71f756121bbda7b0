from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "teams"
    verbose_name = "Companies, people and invitations"

    def ready(self) -> None:
        # Here and not at the top: Django allows models to be imported only from now on.
        from . import tasks  # noqa: F401  (registers the Celery tasks)
