"""Jinja2 SQL templates: `<engine>/<kind>.sql.j2`, falling back to `common/<kind>.sql.j2`."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent
