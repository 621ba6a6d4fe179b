"""The app built from the environment, for uvicorn's ``--factory`` and workers."""

from __future__ import annotations

from fastapi import FastAPI


def app_from_env() -> FastAPI:
    """``create_app`` on settings from ``REMINDERS_*`` variables."""
    from config.settings import Settings
    from reminders.wiring import connect

    from .app import create_app

    settings = Settings()
    return create_app(settings, connect(settings))
