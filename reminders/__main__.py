"""``python -m reminders`` runs the CLI."""

from .cli import main

main()
