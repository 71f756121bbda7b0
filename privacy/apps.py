from django.apps import AppConfig

from core.events import MEMBER_LEFT, event_subscribe


class PrivacyConfig(AppConfig):
    name = "privacy"

    def ready(self) -> None:
        # Here and not at the top: Django allows models to be imported only from now on.
        from . import erasure, personal_data, tasks  # noqa: F401  (tasks: registers them)

        personal_data.register()
        event_subscribe(MEMBER_LEFT, erasure.leaver_erase, in_transaction=True)
