from django.apps import AppConfig
from django.db.backends.signals import connection_created


class MetricsConfig(AppConfig):
    name = "apps.metrics"
    label = "metrics"

    def ready(self) -> None:
        from apps.metrics.dbfunctions import register_sqlite_functions
        from apps.metrics.tasks import connect_consumers

        connection_created.connect(
            register_sqlite_functions, dispatch_uid="metrics_sqlite_functions"
        )
        # Announced lifecycle events go to their slow consumers as Celery tasks.
        connect_consumers()
