from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    """Every way out of the platform: the REST API, outbound webhooks, directory write-back,
    exports and download variants. The top layer: nothing of ours imports it."""

    name = "delivery"
    verbose_name = "Delivery: API, webhooks, directories, exports"

    def ready(self) -> None:
        # Here and not at the top: Django allows models to be imported only from now on.
        from . import subscriptions, tasks  # noqa: F401  (tasks: registers the Celery tasks)

        subscriptions.register()
