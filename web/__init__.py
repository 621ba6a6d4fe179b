"""The HTTP side: provider webhooks, citizens' links and replies, staff pages."""

from .app import create_app

__all__ = ["create_app"]
