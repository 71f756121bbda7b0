from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"

    def ready(self) -> None:
        # Connects the GPU workers' heartbeat to Celery's worker signals.
        from . import gpu_heartbeat  # noqa: F401
