"""Print the GitHub App manifest with this deployment's URL filled in, for
creating the app by hand or checking what the manifest page sends."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.integrations.services.manifest import app_manifest
from github_app.manifest import ManifestError


class Command(BaseCommand):
    help = "Print app-manifest.json with the public base URL filled in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=settings.PUBLIC_BASE_URL,
            help="This deployment's public URL, e.g. https://metrics.example.com "
            "(default: PUBLIC_BASE_URL)",
        )
        parser.add_argument("--name", default="", help="The app's name on GitHub")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["base_url"]:
            raise CommandError("give --base-url https://your.host (or set PUBLIC_BASE_URL)")
        try:
            manifest = app_manifest(base_url=options["base_url"], name=options["name"])
        except ManifestError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(manifest, indent=2))
