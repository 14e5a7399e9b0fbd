"""``python -m anticipate`` runs the CLI."""

from anticipate.cli import run

run()
