"""Reading deadlines from CSV or JSON Lines files for bulk registration.

Each line becomes either a mapping for ``Deadline`` or a reason it cannot be
one; a bad line never stops the file. CSV columns (header row required)::

    agency, ref, due, title_fr, title_en, action_url,
    phone, email, locale, timezone, channels, offsets

``channels`` and ``offsets`` hold several values separated by ``;`` or
spaces (``sms;email``, ``7d;1d``); empty cells mean "not given". Cells are
separated by commas, semicolons (Excel in French) or tabs, told from the
header; a byte order mark (Excel's "CSV UTF-8") is dropped. JSON Lines hold
one object per line in the shape of ``reminders.Deadline`` (a nested
``citizen``), or the flat CSV shape. A header that is not usable stops the
file (:class:`HeaderError`); a ref given twice in one file is refused on its
later line.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

Format = Literal["csv", "jsonl"]
CSV_COLUMNS = (
    "agency",
    "ref",
    "due",
    "title_fr",
    "title_en",
    "action_url",
    "phone",
    "email",
    "locale",
    "timezone",
    "channels",
    "offsets",
)
REQUIRED_COLUMNS = frozenset({"agency", "ref", "due"})
_CITIZEN_FIELDS = ("phone", "email", "locale", "timezone")
_SPLIT = re.compile(r"[;,\s]+")
MAX_LINE_CHARS = 64 * 1024
NOT_UTF8 = "not valid UTF-8"
_REPLACEMENT = "\ufffd"


class HeaderError(ValueError):
    """The CSV header cannot be used: nothing in the file is read."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the input: a deadline mapping, or why there is none."""

    number: int
    data: dict[str, Any] | None
    error: str | None = None


def detect_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ValueError(f"cannot tell the format of {path.name}: use .csv or .jsonl, or --format")


def read_lines(stream: TextIO, fmt: Format) -> Iterator[Line]:
    """The deadlines of ``stream``, line by line.

    Open the file with ``errors="replace"``: a line holding bytes that are
    not UTF-8 is then refused on its own instead of stopping the file.
    """
    source = _read_csv(stream) if fmt == "csv" else _read_jsonl(stream)
    seen: dict[tuple[str, str], int] = {}
    for line in source:
        if line.data is not None:
            key = (str(line.data.get("agency", "")), str(line.data.get("ref", "")))
            first = seen.setdefault(key, line.number)
            if first != line.number:
                line = Line(line.number, None, f"ref: already on line {first} of this file")
        yield line


def _read_jsonl(stream: TextIO) -> Iterator[Line]:
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        if len(text) > MAX_LINE_CHARS:
            yield Line(number, None, f"line is longer than {MAX_LINE_CHARS} characters")
            continue
        if _REPLACEMENT in text:
            yield Line(number, None, NOT_UTF8)
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            yield Line(number, None, f"not valid JSON ({err.msg} at column {err.colno})")
            continue
        if not isinstance(value, dict):
            yield Line(number, None, "not a JSON object")
            continue
        yield Line(number, _nest(value) if "citizen" not in value else value)


def delimiter(header: str) -> str:
    """The cell separator of a CSV file, from its header line: the one of
    comma, semicolon and tab that splits it into the most known columns."""
    known = set(CSV_COLUMNS)

    def score(sep: str) -> tuple[int, int]:
        cells = [cell.strip().strip('"').lstrip("\ufeff") for cell in header.split(sep)]
        return sum(cell in known for cell in cells), len(cells)

    return max((",", ";", "\t"), key=score)


def _read_csv(stream: TextIO) -> Iterator[Line]:
    first = stream.readline()
    reader = csv.DictReader(
        itertools.chain([first], stream), restkey="_extra", delimiter=delimiter(first)
    )
    if reader.fieldnames:
        reader.fieldnames = [name.lstrip("\ufeff").strip() for name in reader.fieldnames]
    header = set(reader.fieldnames or ())
    missing = REQUIRED_COLUMNS - header
    unknown = header - set(CSV_COLUMNS)
    if missing or unknown:
        problem = []
        if missing:
            problem.append(f"missing columns {sorted(missing)}")
        if unknown:
            problem.append(f"unknown columns {sorted(unknown)}")
        raise HeaderError("header: " + "; ".join(problem))
    for row in reader:
        number = reader.line_num
        if row.get("_extra"):
            yield Line(number, None, "more cells than the header has columns")
            continue
        if any(value is None for value in row.values()):
            yield Line(number, None, "fewer cells than the header has columns")
            continue
        if any(_REPLACEMENT in value for value in row.values()):
            yield Line(number, None, NOT_UTF8)
            continue
        yield Line(number, _nest(row))


def _nest(row: dict[str, Any]) -> dict[str, Any]:
    """Flat (CSV-shaped) fields into the shape of ``Deadline``."""
    data: dict[str, Any] = {}
    citizen: dict[str, Any] = {}
    title: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "":
            continue
        if key in _CITIZEN_FIELDS:
            citizen[key] = value
        elif key == "title_fr":
            title["fr"] = value
        elif key == "title_en":
            title["en"] = value
        elif key in ("channels", "offsets") and isinstance(value, str):
            data[key] = [part for part in _SPLIT.split(value.strip()) if part]
        else:
            data[key] = value
    if title:
        data["title"] = title
    data["citizen"] = citizen
    return data
