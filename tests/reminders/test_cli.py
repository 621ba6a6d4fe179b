"""``reminders import`` and ``reminders demo`` run as a user runs them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reminders import ReminderService
from reminders.settings import Settings
from reminders.wiring import Core
from tests.conftest import deadline_data

HEADER = (
    "agency,ref,due,title_fr,title_en,action_url,phone,email,locale,timezone,channels,offsets\n"
)


def run(args: list[str], settings: Settings, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert settings.encryption_keys is not None and settings.hash_key is not None
    env = {
        **os.environ,
        "REMINDERS_REDIS_URL": settings.redis_url,
        "REMINDERS_KEY_PREFIX": settings.key_prefix,
        "REMINDERS_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
        "REMINDERS_HASH_KEY": settings.hash_key.get_secret_value(),
    }
    return subprocess.run(
        [sys.executable, "-m", "reminders", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_import_csv_registers_good_lines_and_writes_rejects_with_line_and_reason(
    tmp_path: Path, settings: Settings, service: ReminderService
) -> None:
    source = tmp_path / "deadlines.csv"
    source.write_text(
        HEADER
        + "saaq,p-1,2027-01-15,Renouveler,Renew,https://x.gouv.qc.ca/a,+15145550123,a@example.ca,fr,America/Toronto,sms;email,7d;1d\n"
        + "saaq,p-2,2027-01-15,Renouveler,,,+15140000000,,fr,America/Toronto,,\n"
        + "saaq,p-3,2027-01-15T09:00:00-05:00,Payer,,,,b@example.ca,en,America/Halifax,,\n"
        + "saaq,p-4,2027-01-15\n"
        + "saaq,p-5,2027-01-15,Payer,,http://insecure.example,,c@example.ca,fr,America/Toronto,,\n",
        encoding="utf-8",
    )
    done = run(["import", str(source)], settings, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "created 2, updated 0, unchanged 0, refused 3" in done.stdout
    text = (tmp_path / "deadlines.csv.rejects.csv").read_text(encoding="utf-8")
    rejects = list(csv.reader(text.splitlines()))
    assert rejects[0] == ["line", "reason"]
    assert [row[0] for row in rejects[1:]] == ["3", "5", "6"]
    assert rejects[1][1].startswith("citizen.phone")
    assert "fewer cells" in rejects[2][1]
    assert rejects[3][1].startswith("action_url")
    assert "5140000000" not in text
    assert service.get("saaq", "p-1").channels == ["sms", "email"]
    assert service.get("saaq", "p-3").locale == "en"

    again = run(["import", str(source), "--rejects", str(tmp_path / "r2.csv")], settings, tmp_path)
    assert "created 0, updated 0, unchanged 2, refused 3" in again.stdout


def test_import_jsonl_survives_broken_lines(
    tmp_path: Path, settings: Settings, service: ReminderService
) -> None:
    source = tmp_path / "deadlines.jsonl"
    lines = [
        json.dumps(deadline_data(ref="j-1")),
        "{not json",
        json.dumps([1, 2]),
        "",
        json.dumps(deadline_data(ref="j-2", channels=["fax"])),
        json.dumps(deadline_data(ref="j-3")),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run(["import", str(source)], settings, tmp_path)
    assert done.returncode == 1
    assert "created 2, updated 0, unchanged 0, refused 3" in done.stdout
    text = (tmp_path / "deadlines.jsonl.rejects.csv").read_text(encoding="utf-8")
    rejects = list(csv.reader(text.splitlines()))
    assert rejects[1][0] == "2" and rejects[1][1].startswith("not valid JSON")
    assert rejects[2] == ["3", "not a JSON object"]
    assert rejects[3] == ["5", "channels.0: Input should be 'sms', 'email' or 'calendar'"]
    assert service.get("saaq", "j-3").status == "active"


def test_import_of_a_clean_file_exits_zero(tmp_path: Path, settings: Settings) -> None:
    source = tmp_path / "ok.jsonl"
    source.write_text(json.dumps(deadline_data(ref="ok-1")) + "\n", encoding="utf-8")
    done = run(["import", str(source)], settings, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "ok.jsonl.rejects.csv").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [("deadlines.txt", "x", "cannot tell the format"), ("missing.csv", None, "cannot read")],
)
def test_import_refuses_unusable_files_with_exit_status_2(
    tmp_path: Path, settings: Settings, name: str, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_text(content, encoding="utf-8")
    done = run(["import", str(tmp_path / name)], settings, tmp_path)
    assert done.returncode == 2
    assert message in done.stderr


def test_a_bad_csv_header_stops_the_file_with_exit_status_2(
    tmp_path: Path, settings: Settings, service: ReminderService
) -> None:
    (tmp_path / "bad.csv").write_text("agency,ref,colour\nsaaq,x,red\n", encoding="utf-8")
    done = run(["import", str(tmp_path / "bad.csv")], settings, tmp_path)
    assert done.returncode == 2
    assert "header: missing columns ['due']; unknown columns ['colour']" in done.stderr
    assert not (tmp_path / "bad.csv.rejects.csv").exists()


EXCEL_ROWS = [
    ["saaq", "x-1", "2027-01-15", "Renouveler le permis", "", "", "", "a@example.ca", "fr",
     "America/Toronto", "email", "7d;1d"],
    ["saaq", "x-2", "2027-01-16", "Échéance de l'impôt", "", "", "", "b@example.ca", "fr",
     "America/Toronto", "email", "7d"],
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "delimiter", "encoding", "args"),
    [
        ("excel-utf8.csv", ",", "utf-8-sig", []),  # Excel's "CSV UTF-8": a BOM first
        ("excel-fr.csv", ";", "utf-8-sig", []),  # Excel in French: semicolons
        ("excel-tab.csv", "\t", "utf-8", []),
        ("excel-1252.csv", ";", "cp1252", ["--encoding", "cp1252"]),  # older Excel
    ],
)
def test_import_reads_what_excel_writes(
    tmp_path: Path,
    settings: Settings,
    service: ReminderService,
    name: str,
    delimiter: str,
    encoding: str,
    args: list[str],
) -> None:
    source = tmp_path / name
    with source.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow(HEADER.strip().split(","))
        writer.writerows(EXCEL_ROWS)
    done = run(["import", str(source), *args], settings, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created 2, updated 0, unchanged 0, refused 0" in done.stdout
    assert service.get("saaq", "x-2").title["fr"] == "Échéance de l'impôt"


def test_a_ref_twice_in_one_file_is_refused_on_its_later_line(
    tmp_path: Path, settings: Settings, service: ReminderService
) -> None:
    source = tmp_path / "twice.csv"
    source.write_text(
        HEADER
        + "saaq,d-1,2027-01-15,Premier,,,,a@example.ca,fr,America/Toronto,email,7d\n"
        + "saaq,d-1,2027-02-15,Second,,,,a@example.ca,fr,America/Toronto,email,7d\n",
        encoding="utf-8",
    )
    done = run(["import", str(source)], settings, tmp_path)
    assert done.returncode == 1
    assert "created 1, updated 0, unchanged 0, refused 1" in done.stdout
    rejects = (tmp_path / "twice.csv.rejects.csv").read_text(encoding="utf-8")
    assert "3,ref: already on line 2 of this file" in rejects
    assert service.get("saaq", "d-1").title["fr"] == "Premier"


def test_an_unknown_encoding_exits_2(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "a.csv").write_text(HEADER, encoding="utf-8")
    done = run(["import", str(tmp_path / "a.csv"), "--encoding", "klingon"], settings, tmp_path)
    assert done.returncode == 2 and "--encoding" in done.stderr


def test_a_line_that_is_not_utf8_is_refused_alone(
    tmp_path: Path, settings: Settings, service: ReminderService
) -> None:
    first = json.dumps(deadline_data(ref="u-1")).encode()
    last = json.dumps(deadline_data(ref="u-3")).encode()
    (tmp_path / "latin.jsonl").write_bytes(first + b"\n" + b'{"ref": "caf\xe9"}\n' + last + b"\n")
    done = run(["import", str(tmp_path / "latin.jsonl")], settings, tmp_path)
    assert done.returncode == 1
    assert "created 2, updated 0, unchanged 0, refused 1" in done.stdout
    rejects = (tmp_path / "latin.jsonl.rejects.csv").read_text(encoding="utf-8")
    assert "2,not valid UTF-8" in rejects
    assert service.get("saaq", "u-1").status == "active"
    assert service.get("saaq", "u-3").status == "active"


def test_import_without_encryption_keys_names_the_missing_setting(
    tmp_path: Path, settings: Settings
) -> None:
    source = tmp_path / "ok.jsonl"
    source.write_text(json.dumps(deadline_data(ref="ok-1")) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMINDERS_")}
    env["REMINDERS_HASH_KEY"] = "h" * 32
    done = subprocess.run(
        [sys.executable, "-m", "reminders", "import", str(source)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "REMINDERS_ENCRYPTION_KEYS" in done.stderr


def test_demo_runs_the_whole_system_and_leaves_nothing_running(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("REMINDERS_") and k != "REDIS_URL"
    }
    before = _redis_processes()
    done = subprocess.run(
        [sys.executable, "-m", "reminders", "demo", "--deadlines", "240", "--days", "20"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "deadlines registered 240" in out
    assert "counters vs recount from records agree" in out
    assert "contact data purged 0 deadlines past retention" in out  # 20 days < 90
    assert "target 60%" in out and "by reason" in out and "no_contact" in out
    report = tmp_path / "reminders-demo-report.html"
    assert report.exists() and "Couverture des rappels" in report.read_text(encoding="utf-8")
    # Nothing about the sample's citizens on screen.
    assert "@example.ca" not in out + done.stderr and "+1514555" not in out + done.stderr
    assert _redis_processes() == before


def _redis_processes() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"redis-server" in command:
                found.add(int(entry.name))
    return found


def test_coverage_command_in_each_format(
    tmp_path: Path, settings: Settings, service: ReminderService
) -> None:
    from reminders import Deadline

    service.register(Deadline.model_validate(deadline_data(ref="a")))
    service.register(
        Deadline.model_validate(deadline_data(ref="b", citizen={"phone": None, "email": None}))
    )
    table = run(["coverage"], settings, tmp_path)
    assert table.returncode == 0, table.stderr
    words = " ".join(table.stdout.split())
    assert "Coverage 0.0% of 2 deadlines in scope" in words and "60%: not met" in words
    data = json.loads(run(["coverage", "--format", "json"], settings, tmp_path).stdout)
    assert (data["in_scope"], data["covered"], data["target"]) == (2, 0, 0.6)
    assert data["reasons"]["no_contact"] == 1 and data["reasons"]["pending"] == 1
    rows = list(
        csv.DictReader(
            run(
                ["coverage", "--format", "csv", "--by", "reason"], settings, tmp_path
            ).stdout.splitlines()
        )
    )
    assert {r["reason"]: r["deadlines"] for r in rows}["no_contact"] == "1"
    by_month = run(
        [
            "coverage",
            "--by",
            "month",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-31",
            "--agency",
            "saaq",
        ],
        settings,
        tmp_path,
    )
    assert "2026-12" in by_month.stdout
    for bad, message in (
        (["--by", "planet"], "'--by'"),
        (["--format", "xml"], "'--format'"),
        (["--from", "soon"], "must be dates"),
        (["--from", "2027-01-01", "--to", "2026-01-01"], "end: must not be before start"),
    ):
        refused = run(["coverage", *bad], settings, tmp_path)
        assert refused.returncode == 2 and message in refused.stderr


def test_coverage_recount_reports_and_fixes_drift(
    core: Core, tmp_path: Path, settings: Settings, service: ReminderService
) -> None:
    from reminders import Deadline

    service.register(Deadline.model_validate(deadline_data()))
    clean = run(["coverage", "--recount"], settings, tmp_path)
    assert clean.returncode == 0 and "0 difference(s) found" in clean.stdout
    field = next(iter(core.store.coverage_fields()))
    core.store.client.hincrby(core.store.keys.coverage(0), field, 3)
    drift = run(["coverage", "--recount"], settings, tmp_path)
    assert drift.returncode == 1 and "counters 4, records 1" in drift.stdout
    fixed = run(["coverage", "--recount", "--fix"], settings, tmp_path)
    assert fixed.returncode == 0 and "1 difference(s) fixed" in fixed.stdout
    assert service.recount() == {}


def test_version_and_the_choices_of_coverage_are_shown(tmp_path: Path, settings: Settings) -> None:
    version = run(["--version"], settings, tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("reminders 0.")
    shown = run(["coverage", "--help"], settings, tmp_path)
    assert shown.returncode == 0
    assert "<table|json|csv>" in shown.stdout
    assert "<agency|month|channel|" in shown.stdout and "reason>" in shown.stdout


@pytest.mark.parametrize("command", [["coverage"], ["coverage", "--recount"], ["purge"]])
def test_a_redis_that_does_not_answer_is_one_line_and_exit_2(
    tmp_path: Path, settings: Settings, unused_port: int, command: list[str]
) -> None:
    away = settings.model_copy(update={"redis_url": f"redis://:secret@127.0.0.1:{unused_port}/0"})
    done = run(command, away, tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "secret" not in done.stderr
    assert f"Redis at 127.0.0.1:{unused_port} does not answer" in " ".join(done.stderr.split())


def test_a_wrong_setting_is_one_line_naming_it(tmp_path: Path, settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMINDERS_")}
    env["REMINDERS_REDIS_URL"] = "localhost:6379"
    env["REMINDERS_COVERAGE_TARGET"] = "2"
    done = subprocess.run(
        [sys.executable, "-m", "reminders", "coverage"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    text = " ".join(done.stderr.split())
    assert "REMINDERS_REDIS_URL" in text and "REMINDERS_COVERAGE_TARGET" in text


def test_every_missing_secret_is_named_at_once(tmp_path: Path) -> None:
    source = tmp_path / "ok.jsonl"
    source.write_text(json.dumps(deadline_data(ref="ok-1")) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMINDERS_")}
    done = subprocess.run(
        [sys.executable, "-m", "reminders", "import", str(source)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    text = " ".join(done.stderr.split())
    assert "REMINDERS_ENCRYPTION_KEYS" in text and "REMINDERS_HASH_KEY" in text


def test_the_demo_uses_reminders_redis_url_and_leaves_it_as_it_was(
    tmp_path: Path, redis_url: str, redis_client: Any
) -> None:
    before = redis_client.dbsize()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMINDERS_")}
    env["REMINDERS_REDIS_URL"] = redis_url
    done = subprocess.run(
        [sys.executable, "-m", "reminders", "demo", "--deadlines", "60", "--days", "5"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "deadlines registered 60" in " ".join(done.stdout.split())
    assert redis_client.dbsize() == before  # its keys were written there, then deleted


def test_the_import_progress_counts_rows_not_bytes(tmp_path: Path) -> None:
    from reminders.cli import _count_rows

    with_newline = tmp_path / "a.csv"
    with_newline.write_text(HEADER + "saaq,1,2027-01-15\n" * 3, encoding="utf-8")
    without = tmp_path / "b.csv"
    without.write_text(HEADER + "saaq,1,2027-01-15\n" * 2 + "saaq,2,2027-01-15", encoding="utf-8")
    assert _count_rows(with_newline) == 4 and _count_rows(without) == 4
    assert with_newline.stat().st_size > 100  # bytes would be another total
