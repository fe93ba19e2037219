from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"

    def ready(self) -> None:
        # The tasks are registered in every process, not only in workers (where
        # Celery finds them itself): services send them by name
        # (apps/integrations/scheduling/).
        import apps.integrations.tasks  # noqa: F401
        from apps.integrations.selectors import RepositoryRows
        from apps.metrics.repositories import repository_directory_provide

        # The metrics ask this app about repositories through their port.
        repository_directory_provide(RepositoryRows())
