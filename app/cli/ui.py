"""`formcast ui`: start the Streamlit app (app/ui/app.py) with this process's FORMCAST_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

APP_FILE = Path(__file__).resolve().parents[1] / "ui" / "app.py"


def streamlit_command(port: int = 8501, headless: bool = True) -> list[str]:
    # toolbarMode viewer: no Streamlit "Deploy"/developer menu beside Formcast's own controls
    return [sys.executable, "-m", "streamlit", "run", str(APP_FILE), "--server.port", str(port),
            "--server.headless", "true" if headless else "false", "--client.toolbarMode", "viewer"]


def ui_environment(home: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["FORMCAST_HOME"] = str(Path(home or env.get("FORMCAST_HOME", "").strip() or ".formcast").resolve())
    env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    env.pop("FORMCAST_TOKEN", None)  # the UI acts only as whoever signs in, never as the CLI's account
    return env


@click.command("ui")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
def ui(port: int) -> None:
    """Open the web UI: forms for tasks, live SQL, preview runs, schedules, the catalog."""
    env = ui_environment()
    click.echo(f"Formcast UI on http://localhost:{port} (workspace {env['FORMCAST_HOME']}); sign in with an "
               "account (formcast demo prints the demo's)")
    try:
        code = subprocess.call(streamlit_command(port), env=env)
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)
