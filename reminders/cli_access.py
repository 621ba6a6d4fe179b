"""``reminders agencies``, ``reminders keys`` and ``reminders staff``: who may
use the shared service. Each new secret is printed once, as the last line of
the command's output, and stored only as a keyed hash."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from .agencies import AgencyRegistry, check_slug
from .credentials import ALL, Credential, Credentials
from .errors import ReminderError

if TYPE_CHECKING:
    from .wiring import Core

T = TypeVar("T")

agencies_app = typer.Typer(help="Register agencies (the service's tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of an agency (for the HTTP API).", no_args_is_help=True)
staff_app = typer.Typer(help="Staff sign-in tokens (dashboard).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _core() -> Core:
    from .settings import Settings
    from .wiring import build_core

    return build_core(Settings())


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(2)


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except ReminderError as err:
        raise _fail(str(err)) from None


@agencies_app.command("add")
def agencies_add(
    slug: Annotated[str, typer.Argument(help="a-z, 0-9 and -, at most 32 characters.")],
    name_fr: Annotated[str, typer.Option("--name-fr", help="Name shown to citizens, in French.")],
    name_en: Annotated[str, typer.Option("--name-en", help="Name shown to citizens, in English.")],
) -> None:
    """Register an agency; its deadlines, keys and staff can then be added."""
    core = _core()
    agency = _run(lambda: core.agencies.add(slug, name_fr=name_fr, name_en=name_en))
    console.print(f"registered {agency.slug}: {agency.name_fr} / {agency.name_en}")


@agencies_app.command("list")
def agencies_list() -> None:
    """Every registered agency."""
    core = _core()
    table = Table("agency", "name (fr)", "name (en)", "registered", "callback")
    for agency in _run(core.agencies.list):
        table.add_row(
            agency.slug,
            agency.name_fr,
            agency.name_en,
            agency.created_at.date().isoformat(),
            "yes" if agency.callback_url else "no",
        )
    console.print(table)


@agencies_app.command("show")
def agencies_show(slug: str) -> None:
    """One agency: names, limits, callback, keys and staff."""
    core = _core()
    agency = _run(lambda: core.agencies.get(slug))
    settings = core.settings
    console.print(f"agency      {agency.slug}")
    console.print(f"names       {agency.name_fr} / {agency.name_en}")
    console.print(f"registered  {agency.created_at.isoformat()}")
    rate = agency.rate_per_s or settings.api_rate_per_s
    quota = agency.daily_quota or settings.api_daily_quota
    console.print(f"API limits  {rate:g} requests/s, {quota:,} deadline operations a day")
    console.print(f"callback    {agency.callback_url or '(none)'}")
    console.print(
        f"API keys    {len([k for k in core.api_keys.of_scope(slug) if k.active])} active"
    )
    console.print(f"staff       {len([k for k in core.staff.of_scope(slug) if k.active])} active")


@agencies_app.command("limits")
def agencies_limits(
    slug: str,
    rate: Annotated[
        float | None, typer.Option(help="Requests per second (0: the default).")
    ] = None,
    quota: Annotated[int | None, typer.Option(help="Operations per day (0: the default).")] = None,
) -> None:
    """Override one agency's API rate limit or daily quota."""
    core = _core()
    agency = _run(lambda: core.agencies.set_limits(slug, rate_per_s=rate, daily_quota=quota))
    rate_text = agency.rate_per_s or "default"
    console.print(f"{agency.slug}: rate {rate_text}, quota {agency.daily_quota or 'default'}")


def _credentials_table(found: list[Credential]) -> Table:
    table = Table("id", "scope", "label", "created", "last used", "state")
    for item in found:
        table.add_row(
            item.key_id,
            item.scope,
            item.label,
            item.created_at.isoformat(timespec="minutes"),
            item.last_used_at.isoformat(timespec="minutes") if item.last_used_at else "never",
            "revoked " + item.revoked_at.date().isoformat() if item.revoked_at else "active",
        )
    return table


def _create(kind: Credentials, registry: AgencyRegistry, scope: str, label: str) -> None:
    if scope != ALL or kind.kind == "api":
        _run(lambda: registry.get(check_slug(scope)))
    made, secret = _run(lambda: kind.create(scope, label))
    noun = "API key" if kind.kind == "api" else "staff token"
    console.print(f"{noun} {made.key_id} for {scope} (shown once; store it now):")
    typer.echo(secret)


@keys_app.command("create")
def keys_create(
    agency: str, label: Annotated[str, typer.Option(help="What the key is for.")] = ""
) -> None:
    """Make an API key for AGENCY; the key is the last line printed."""
    core = _core()
    _create(core.api_keys, core.agencies, agency, label)


@keys_app.command("list")
def keys_list(agency: str) -> None:
    """The API keys of AGENCY (never the keys themselves)."""
    core = _core()
    _run(lambda: core.agencies.get(agency))
    console.print(_credentials_table(core.api_keys.of_scope(agency)))


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Refuse the key KEY_ID from the next request on."""
    core = _core()
    revoked = _run(lambda: core.api_keys.revoke(key_id))
    console.print(f"revoked API key {revoked.key_id} of {revoked.scope}")


@staff_app.command("add")
def staff_add(
    scope: Annotated[str, typer.Argument(help="An agency, or 'all' for every agency.")],
    label: Annotated[str, typer.Option(help="Who holds it.")] = "",
) -> None:
    """Make a sign-in token for the dashboard; it is the last line printed."""
    core = _core()
    _create(core.staff, core.agencies, scope, label)


@staff_app.command("list")
def staff_list(scope: Annotated[str, typer.Argument(help="An agency, or 'all'.")]) -> None:
    """The staff tokens of SCOPE (never the tokens themselves)."""
    core = _core()
    console.print(_credentials_table(core.staff.of_scope(scope)))


@staff_app.command("revoke")
def staff_revoke(key_id: str) -> None:
    """Refuse the token KEY_ID, and end its sessions, from the next request on."""
    core = _core()
    revoked = _run(lambda: core.staff.revoke(key_id))
    console.print(f"revoked staff token {revoked.key_id} of {revoked.scope}")
