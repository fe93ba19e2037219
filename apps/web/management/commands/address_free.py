import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Check that HOST:PORT is free to serve on (make run does, before anything "
        "else); a clear error, with what to do, when another process holds it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("host")
        parser.add_argument("port", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"].strip("[]"), options["port"]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # As runserver binds (SO_REUSEADDR): a port left in TIME_WAIT is free,
        # one another server listens on is not.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(
                    f"Cannot serve on {host}:{port}: {exc.strerror or exc} "
                    "(another `make run` or server is using it?). Stop it, or choose "
                    f"another port: make run PORT={port + 1}"
                ) from None
