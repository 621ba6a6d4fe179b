"""A realistic, reproducible sample of deadlines (demo and benchmarks).

Three agencies, due dates spread over the coming months, French and English
citizens across Canadian time zones, some without a phone or an email, and
some of the sandbox's magic recipients (numbers ending 0002-0004, email
local parts ``fail``, ``temp``, ``bounce``) so the demo shows failures too.
Phone numbers are in the 555-01xx-style fictional ranges; emails use the
reserved ``example.ca`` domain.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from reminders.agencies import AgencyExists
from reminders.service import ReminderService

AGENCIES: dict[str, tuple[dict[str, str], ...]] = {
    "saaq": (
        {"fr": "Renouveler votre permis de conduire", "en": "Renew your driver's licence"},
        {"fr": "Payer l'immatriculation de votre véhicule", "en": "Pay your vehicle registration"},
    ),
    "revenu": (
        {"fr": "Produire votre déclaration de revenus", "en": "File your income tax return"},
        {"fr": "Répondre à la demande de documents", "en": "Answer the request for documents"},
    ),
    "emploi": (
        {"fr": "Confirmer votre recherche d'emploi", "en": "Confirm your job search"},
        {"fr": "Envoyer votre déclaration bimensuelle", "en": "Send your biweekly report"},
    ),
}
NAMES: dict[str, tuple[str, str]] = {
    "saaq": ("SAAQ", "SAAQ"),
    "revenu": ("Revenu Québec", "Revenu Québec"),
    "emploi": ("Emploi Québec", "Emploi Québec"),
    "bench": ("Banc d'essai", "Benchmark"),
}
"""The sample's agencies (and the benchmarks'): French and English names."""
ZONES = (
    "America/Toronto",
    "America/Toronto",
    "America/Montreal",
    "America/Halifax",
    "America/Vancouver",
)
MAGIC_PHONE_ENDINGS = ("0002", "0003", "0004")
MAGIC_EMAIL_LOCALS = ("fail", "temp", "bounce")


def register_agencies(service: ReminderService) -> None:
    """Register the sample's agencies (those already registered stay)."""
    for slug, (fr, en) in NAMES.items():
        with contextlib.suppress(AgencyExists):
            service.add_agency(slug, name_fr=fr, name_en=en)


def sample_deadlines(
    count: int, *, now: datetime, seed: int = 7, horizon_days: int = 120
) -> Iterator[dict[str, Any]]:
    """``count`` deadline mappings due between 2 hours and ``horizon_days`` after ``now``."""
    rng = random.Random(seed)
    agencies = list(AGENCIES)
    for i in range(count):
        agency = agencies[i % len(agencies)]
        title = rng.choice(AGENCIES[agency])
        due = now.astimezone(UTC) + timedelta(hours=2 + rng.random() * 24 * horizon_days)
        due = due.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if rng.random() < 0.02:  # registered when it is almost too late
            due = now.astimezone(UTC) + timedelta(minutes=20 + rng.random() * 30)
        citizen: dict[str, Any] = {
            "locale": "fr" if rng.random() < 0.8 else "en",
            "timezone": rng.choice(ZONES),
        }
        roll = rng.random()
        if roll < 0.06:
            pass  # no phone, no email: the agency has no contact details
        elif roll < 0.75:
            ending = (
                rng.choice(MAGIC_PHONE_ENDINGS) if rng.random() < 0.06 else f"{1000 + i % 8999:04d}"
            )
            citizen["phone"] = f"+1514555{ending}"
        if roll > 0.12 or 0.06 <= roll < 0.07:
            local = rng.choice(MAGIC_EMAIL_LOCALS) if rng.random() < 0.05 else f"citoyen{i}"
            citizen["email"] = f"{local}@example.ca"
        data: dict[str, Any] = {
            "agency": agency,
            "ref": f"{agency}-{now.year}-{i:06d}",
            "due": due.isoformat(),
            "title": title,
            "citizen": citizen,
        }
        if rng.random() < 0.7:
            data["action_url"] = f"https://{agency}.example.gouv.qc.ca/dossier/{i}"
        if rng.random() < 0.25:
            data["due"] = due.date().isoformat()
        yield data
