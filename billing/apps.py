from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # Here and not at the top: Django allows models to be imported only from now on.
        from . import limits

        limits.register()  # teams' seat check (core/limits.py) is billing's to answer
