from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"

    def ready(self) -> None:
        # Connects the GPU workers' heartbeat to Celery's worker signals.
        from .backends.gpu import heartbeat  # noqa: F401
