"""Strict parsing of form bodies: valid UTF-8, bounded, or a 400 naming why."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException


def parse_form(body: bytes, *, max_fields: int = 64, max_value: int = 4096) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except UnicodeDecodeError:
        raise HTTPException(400, "form body is not valid UTF-8") from None
    except ValueError:
        raise HTTPException(400, f"form body has more than {max_fields} fields") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if len(value) > max_value:
            raise HTTPException(400, f"form field {name[:40]!r} is too long")
        form[name] = value
    return form
