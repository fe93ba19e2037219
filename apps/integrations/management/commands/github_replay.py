import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline.drain import process_delivery
from apps.integrations.pipeline.store import store_delivery
from github_app.deliveries import (
    DeliveryHeaderError,
    DeliveryHeaders,
    parse_body,
    parse_delivery_headers,
)

# GitHub caps a webhook payload at 25 MB; so does the webhook (views/webhooks.py).
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024


def read_payload(path: Path, *, limit: int = MAX_PAYLOAD_BYTES) -> tuple[str, dict[str, Any]]:
    """A payload file's text and its JSON object, read no further than ``limit``
    bytes (a path such as /dev/zero never ends). CommandError, naming the file,
    for anything else."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise CommandError(f"{path}: cannot read it ({error.strerror or error})") from None
    if len(data) > limit:
        raise CommandError(f"{path}: larger than {limit} bytes, GitHub's cap on a payload")
    try:
        payload = parse_body(data)
    except ValueError:
        raise CommandError(f"{path}: not a JSON payload (UTF-8 JSON text)") from None
    if not isinstance(payload, dict):
        raise CommandError(f"{path}: the payload is not a JSON object")
    return data.decode("utf-8"), payload


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
        try:
            # The same checks as the webhook's X-GitHub-Event header.
            event = parse_delivery_headers(
                {"X-GitHub-Delivery": "replay", "X-GitHub-Event": options["event"]}
            ).event
        except DeliveryHeaderError as error:
            message = str(error).replace("X-GitHub-Event header", "the name")
            raise CommandError(f"--event: {message}") from None
        for path in options["paths"]:
            body, payload = read_payload(path)
            headers = DeliveryHeaders(
                delivery_id=f"replay-{uuid.uuid4()}",
                event=event,
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
