"""The module Dramatiq's CLI imports in each worker process.

``reminders worker`` runs ``dramatiq workers.entry:broker``; Dramatiq needs a
``broker`` attribute when it imports this module, so this is the one place a
worker process is built at import, by :func:`worker_from_env`, and nowhere
else.
"""

from __future__ import annotations

import gc

from .app import Worker, build_worker

LOG_BATCH_S = 0.1
"""A worker writes its log lines in batches this often (see reminders.logs)."""
YOUNG_COLLECTION_AT = 10_000
"""Net new objects between two collections of the youngest generation
(Python's default: 700)."""


def tune_collector() -> None:
    """Python's cyclic garbage collector, for a worker's load.

    What start-up built (modules, templates, SDK clients: ~100,000 objects)
    is frozen out of the collector: a full collection walked all of it (84 to
    207 ms each here). A reminder's objects die by reference counting, but
    eight threads with a batch each in flight crossed Python's threshold of
    700 net new objects about every 20 reminders, and each young collection
    walked every batch in flight: 130 to 210 us of collector per reminder,
    measured. At 10,000 it runs about once per 6,000 reminders."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_AT, *gc.get_threshold()[1:])


def worker_from_env() -> Worker:
    """Logging and the worker, from ``REMINDERS_*`` variables (and ``.env``)."""
    from reminders.logs import configure_logging
    from reminders.settings import Settings

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level, batch_s=LOG_BATCH_S)
    built = build_worker(settings)
    tune_collector()
    return built


worker = worker_from_env()
broker = worker.broker
