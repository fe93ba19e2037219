import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.integrations.services.manifest import NoStoredApp, stored_app_replace_webhook_secret


class Command(BaseCommand):
    help = (
        "Replace the webhook secret of the app created from the manifest. The new "
        "secret is read from standard input (never from the command line, which other "
        "users of the machine can see). See docs/github-app.md, 'Rotating the webhook secret'."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        secret = sys.stdin.readline()
        try:
            app = stored_app_replace_webhook_secret(secret=secret)
        except (ValueError, NoStoredApp) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Stored a new webhook secret for {app.name} (app {app.app_id}); "
            "the previous one is no longer accepted."
        )
