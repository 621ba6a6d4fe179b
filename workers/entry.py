"""The module Dramatiq's CLI imports in each worker process.

``reminders worker`` runs ``dramatiq workers.entry:broker``; Dramatiq needs a
``broker`` attribute when it imports this module, so this is the one place a
worker process is built at import, by :func:`worker_from_env`, and nowhere
else.
"""

from __future__ import annotations

from .app import Worker, build_worker

LOG_BATCH_S = 0.1
"""A worker writes its log lines in batches this often (see reminders.logs)."""


def worker_from_env() -> Worker:
    """Logging and the worker, from ``REMINDERS_*`` variables (and ``.env``)."""
    from reminders.logs import configure_logging
    from reminders.settings import Settings

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, batch_s=LOG_BATCH_S)
    return build_worker(settings)


worker = worker_from_env()
broker = worker.broker
