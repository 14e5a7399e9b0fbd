"""``python -m anticipate`` runs the CLI."""

from anticipate.cli import main

main()
