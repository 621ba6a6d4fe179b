"""``reminders agencies``, ``keys`` and ``staff`` run as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from reminders.settings import Settings
from reminders.wiring import Core

from .test_cli import run


def test_agencies_add_list_show_and_refuse_a_second_add(
    tmp_path: Path, settings: Settings, core: Core
) -> None:
    added = run(
        ["agencies", "add", "ramq", "--name-fr", "Régie de l'assurance maladie",
         "--name-en", "Health insurance board"],
        settings,
        tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert core.agencies.get("ramq").name_en == "Health insurance board"
    again = run(["agencies", "add", "ramq", "--name-fr", "x", "--name-en", "y"], settings, tmp_path)
    assert again.returncode == 2 and "already registered" in again.stderr
    listed = run(["agencies", "list"], settings, tmp_path)
    assert "ramq" in listed.stdout and "saaq" in listed.stdout
    shown = run(["agencies", "show", "ramq"], settings, tmp_path)
    assert "Régie de l'assurance maladie" in shown.stdout and "20 requests/s" in shown.stdout
    bad = run(
        ["agencies", "add", "Bad Slug!", "--name-fr", "x", "--name-en", "y"], settings, tmp_path
    )
    assert bad.returncode == 2 and "agency" in bad.stderr
    missing = run(["agencies", "show", "nobody"], settings, tmp_path)
    assert missing.returncode == 2 and "no agency" in missing.stderr


def test_keys_create_prints_the_key_last_once_and_list_revoke_work(
    tmp_path: Path, settings: Settings, core: Core
) -> None:
    made = run(["keys", "create", "saaq", "--label", "permits"], settings, tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("rk_")
    assert core.api_keys.authenticate(key).scope == "saaq"
    (stored,) = core.api_keys.of_scope("saaq")

    listed = run(["keys", "list", "saaq"], settings, tmp_path)
    assert stored.key_id in listed.stdout and "permits" in listed.stdout
    assert key not in listed.stdout
    revoked = run(["keys", "revoke", stored.key_id], settings, tmp_path)
    assert revoked.returncode == 0 and not core.api_keys.get(stored.key_id).active
    assert run(["keys", "create", "nobody"], settings, tmp_path).returncode == 2
    assert run(["keys", "revoke", "ffffffffffff"], settings, tmp_path).returncode == 2


def test_staff_add_for_an_agency_or_all(tmp_path: Path, settings: Settings, core: Core) -> None:
    made = run(["staff", "add", "all", "--label", "director"], settings, tmp_path)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("st_") and core.staff.authenticate(token).scope == "all"
    assert run(["staff", "add", "nobody"], settings, tmp_path).returncode == 2
    listed = run(["staff", "list", "all"], settings, tmp_path)
    assert "director" in listed.stdout and token not in listed.stdout
