from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel every app builds on. It has no models and imports no app of ours."""

    name = "core"
    verbose_name = "Kernel: tenancy, errors, e-mail, events, limits, storage keys"

    def ready(self) -> None:
        from . import pg_times

        pg_times.connect()
