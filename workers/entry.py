"""The module Dramatiq's CLI imports in each worker process.

``reminders worker`` runs ``dramatiq workers.entry:broker``; this module is
that process's composition root, so it builds the worker from settings
(``REMINDERS_*`` variables) when imported, and nowhere else does.
"""

from __future__ import annotations

import logging

from reminders.settings import Settings

from .app import build_worker

logging.getLogger("reminders").setLevel(logging.INFO)
worker = build_worker(Settings())
broker = worker.broker
