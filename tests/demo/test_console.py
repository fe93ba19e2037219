"""What a newcomer sees on the console, with real processes: README's commands
on a fresh SQLite database, as make runs them."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _env(tmp_path: Path) -> dict[str, str]:
    """A newcomer's shell: none of the settings the test run or a deployment sets."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GITHUB_", "TFORMANCE_")) and key != "REDIS_URL"
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'trial.sqlite3'}"
    return env


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@needs_make
def test_it_loads_the_demo_with_a_readable_console(tmp_path):
    env = _env(tmp_path)

    # manage.py without DJANGO_DEBUG: the setting's sentence, not a traceback.
    bare = _run([sys.executable, "manage.py", "demo"], env)
    assert bare.returncode == 2
    assert "Traceback" not in bare.stderr
    assert bare.stderr.startswith("Error: DJANGO_SECRET_KEY is not set.")
    assert "make demo" in bare.stderr

    # What README says to run.
    loaded = _run(["make", "-s", "demo", "PORT=8765"], env)
    assert loaded.returncode == 0, loaded.stderr
    console = loaded.stdout + loaded.stderr
    assert "Traceback" not in console
    assert "webhook delivery received" not in console
    assert "No hostname was supplied" not in console  # no broker: no broker warning
    demo_part = console[console.index("Loading the demo") :].splitlines()
    assert len(demo_part) < 20, console
    password = re.search(r"as  demo-admin  with password  (\S+)", console)
    assert password, console
    assert "http://127.0.0.1:8765/teams/demo-team/" in console
    assert re.search(r"The merge question: \d+ asked of the demo's people, \d+ answered", console)

    # The next `make run` start prints the login again, and keeps the password.
    again = _run(
        [sys.executable, "manage.py", "demo", "--first-run", "--base-url", "http://x:1"],
        {**env, "DJANGO_DEBUG": "1"},
    )
    assert "Log in at http://x:1/login/ as  demo-admin  with the password printed" in again.stdout
    assert "Loading" not in again.stdout
    assert password[1] not in again.stdout


@needs_make
def test_it_stops_make_run_on_a_busy_port_with_what_to_do(tmp_path):
    env = _env(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _run(["make", "-s", "run", f"PORT={port}"], env)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"Cannot serve on 127.0.0.1:{port}" in result.stderr
    assert f"make run PORT={port + 1}" in result.stderr
    # Checked before anything else: no database was made.
    assert not (tmp_path / "trial.sqlite3").exists()
