import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline.drain import process_delivery
from apps.integrations.pipeline.store import store_delivery
from github_app.deliveries import DeliveryHeaders, parse_body


class Command(BaseCommand):
    help = (
        "Feed webhook payload files through the webhook pipeline (store, route, process), "
        "as if GitHub had sent them, and print what became of each."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a JSON payload")
        parser.add_argument(
            "--event", required=True, help="the X-GitHub-Event name, e.g. pull_request"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for path in options["paths"]:
            try:
                body = path.read_text(encoding="utf-8")
                payload = parse_body(body)
            except (OSError, ValueError) as error:
                raise CommandError(f"{path}: cannot read a JSON payload ({error})") from error
            if not isinstance(payload, dict):
                raise CommandError(f"{path}: the payload is not a JSON object")
            headers = DeliveryHeaders(
                delivery_id=f"replay-{uuid.uuid4()}",
                event=options["event"],
                hook_id=None,
                target_type=None,
                target_id=None,
            )
            store_delivery(
                headers=headers,
                body=body,
                payload=payload,
                source=WebhookDelivery.Source.REPLAY,
            )
            delivery = WebhookDelivery.objects.get(delivery_id=headers.delivery_id)
            delivery = process_delivery(pk=delivery.pk)
            detail = delivery.status_reason or delivery.last_error
            outcome = f"{delivery.status}: {detail}" if detail else delivery.status
            self.stdout.write(f"{path}: {delivery.delivery_id} {outcome}")
