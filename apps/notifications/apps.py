from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Registers the tasks in every process (services send them by name).
        from apps.notifications import tasks  # noqa: F401
        from apps.notifications.services.consumers import consumers_register

        # The metrics never import this app: its consumers join the lifecycle's
        # registry here, at start-up.
        consumers_register()
