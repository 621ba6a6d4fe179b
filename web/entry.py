"""The app built from the environment, for uvicorn's ``--factory`` and workers."""

from __future__ import annotations

from fastapi import FastAPI


def app_from_env() -> FastAPI:
    """``create_app`` on settings from ``REMINDERS_*`` variables."""
    from reminders.logs import configure_logging
    from reminders.settings import Settings
    from reminders.wiring import build_core

    from .app import create_app

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(build_core(settings, signing=True))
