"""The module Dramatiq's CLI imports in each worker process.

``reminders worker`` runs ``dramatiq workers.entry:broker``; this module is
that process's composition root, so it builds the worker from settings
(``REMINDERS_*`` variables) when imported, and nowhere else does.
"""

from __future__ import annotations

from reminders.logs import configure_logging
from reminders.settings import Settings

from .app import build_worker

settings = Settings()
configure_logging(settings.log_format, settings.log_level)
worker = build_worker(settings)
broker = worker.broker
