from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"

    def ready(self) -> None:
        # Here and not at the top: Django allows models to be imported only from now on.
        # tasks registers the Celery tasks; heartbeat connects the GPU workers' heartbeat
        # to Celery's worker signals.
        from . import notifications, personal_data, tasks  # noqa: F401
        from .backends.gpu import heartbeat  # noqa: F401

        personal_data.register()
        notifications.register()
