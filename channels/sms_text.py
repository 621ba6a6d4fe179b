"""SMS length: GSM-7 versus UCS-2 segments, and fitting text into two.

One character outside the GSM 03.38 alphabet (``ê``, ``ç``, ``ô``, ``œ``,
typographic quotes…) makes the whole message UCS-2: 70 characters in a
single segment, 67 per segment when split, instead of 160 and 153.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")
_TO_GSM = {
    "’": "'", "‘": "'", "«": '"', "»": '"', "“": '"', "”": '"', "–": "-", "—": "-",
    "…": "...", "œ": "oe", "Œ": "OE", "\u00a0": " ", "\u202f": " ", "ç": "c",
}  # fmt: skip
MAX_SEGMENTS = 2


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: str
    units: int
    segments: int


def measure(text: str) -> SmsLength:
    """Encoding, length in its units, and number of segments of ``text``,
    counted as a handset splits it: a GSM escape (``€``, ``~``, ``{``…, two
    septets) or a UCS-2 surrogate pair (an emoji, two units) is never cut
    in two, so one falling on a boundary starts the next segment (as
    Twilio's segment calculator counts)."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        sizes = [2 if ch in GSM_EXTENDED else 1 for ch in text]
        return SmsLength("GSM-7", sum(sizes), _segments(sizes, single=160, part=153))
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsLength("UCS-2", sum(sizes), _segments(sizes, single=70, part=67))


def _segments(sizes: list[int], *, single: int, part: int) -> int:
    """How many segments characters of these sizes take: one when they fit
    ``single``, else parts of at most ``part`` that never split a character."""
    if sum(sizes) <= single:
        return 1
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def to_gsm(text: str) -> str:
    """Replace what GSM-7 lacks by its nearest letters (``ê`` → ``e``);
    a symbol with no letter in it (an emoji) is left out, never a ``?``."""
    out: list[str] = []
    for ch in text:
        if ch in GSM_BASIC or ch in GSM_EXTENDED:
            out.append(ch)
        elif ch in _TO_GSM:
            out.append(_TO_GSM[ch])
        else:
            base = unicodedata.normalize("NFD", ch)[0]
            if base in GSM_BASIC:
                out.append(base)
            elif unicodedata.category(ch)[0] in "LN":
                out.append("?")  # a letter or digit of another script: say something is there
    return re.sub(r"(?<=\S) {2,}(?=\S)", " ", "".join(out))


def fit(make: Callable[..., str], *titles: str) -> str:
    """The message from ``make(*titles)`` in at most two segments: as
    written, else in GSM-7 letters, else with the titles shortened (the
    longest first, so a bilingual message keeps both)."""
    text = make(*titles)
    if measure(text).segments <= MAX_SEGMENTS:
        return text
    text = to_gsm(text)
    if measure(text).segments <= MAX_SEGMENTS:
        return text
    kept = [to_gsm(title) for title in titles]
    full = list(kept)
    while any(len(title) > 1 for title in kept):
        longest = max(range(len(kept)), key=lambda i: len(kept[i]))
        kept[longest] = kept[longest][:-1]
        shown = [k if k == f else k.rstrip() + "..." for k, f in zip(kept, full, strict=True)]
        text = to_gsm(make(*shown))
        if measure(text).segments <= MAX_SEGMENTS:
            return text
    raise ValueError("the SMS template alone is longer than two segments")
