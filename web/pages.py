"""The citizen-facing pages: bilingual (French first), plain HTML, no scripts.

Every page says the same thing in French and in English, because a link may
be opened by someone whose language we do not know.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from fastapi.responses import HTMLResponse
from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

_PAGE = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ fr.heading }} / {{ en.heading }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }
section + section { border-top: 1px solid #ccc; margin-top: 2rem; padding-top: 1rem; }
button { font-size: 1rem; padding: .5rem 1rem; margin: .25rem .25rem 0 0; cursor: pointer; }
.due { font-weight: bold; }
.sender { font-weight: bold; color: #2b4a7a; margin-bottom: 0; }
</style>
</head>
<body>
{% for lang, text in (("fr", fr), ("en", en)) %}
<section lang="{{ lang }}">
<p class="sender">{{ sender[lang] }}</p>
<h1>{{ text.heading }}</h1>
{% for line in text.lines %}<p>{{ line }}</p>
{% endfor %}
{% if choices %}
<form method="post">
{% for days, label in choices %}<button type="submit" name="days" value="{{ days }}">{{
  label[lang] }}</button>
{% endfor %}
</form>
{% elif confirm %}
<form method="post"{% if action %} action="{{ action }}"{% endif %}><button type="submit">{{
  confirm[lang] }}</button></form>
{% endif %}
</section>
{% endfor %}
</body>
</html>
"""


@dataclass(frozen=True, slots=True)
class Text:
    heading: str
    lines: list[str] = field(default_factory=list)


class Pages:
    """Renders the pages; build once per app. Every page names who sends it
    (the agency when the link says which, and the service): a page without
    the sender's name looks like phishing."""

    def __init__(self, service: str = "Rappels Québec") -> None:
        self.service = service
        self._agency: dict[str, str] | None = None
        self._env = Environment(
            loader=DictLoader({"page.html": _PAGE}),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
        )

    def render(
        self,
        fr: Text,
        en: Text,
        *,
        status: int = 200,
        choices: list[tuple[int, dict[str, str]]] | None = None,
        confirm: dict[str, str] | None = None,
        action: str = "",
        agency: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """``agency``: its names in French and English, when known;
        ``action``: where ``confirm``'s button posts (default: this page)."""
        agency = agency or self._agency
        sender = {
            lang: f"{agency[lang]} · {self.service}" if agency else self.service
            for lang in ("fr", "en")
        }
        html = self._env.get_template("page.html").render(
            fr=fr, en=en, choices=choices or [], confirm=confirm, action=action, sender=sender
        )
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        return HTMLResponse(html, status_code=status, headers=headers)

    def for_agency(self, names: dict[str, str] | None) -> Pages:
        """These pages, naming the agency (``{"fr": ..., "en": ...}``)."""
        bound = copy.copy(self)
        bound._agency = names or None
        return bound

    def problem(self, status: int, fr: str, en: str) -> HTMLResponse:
        return self.render(
            Text("Ce lien ne peut pas servir", [fr]),
            Text("This link cannot be used", [en]),
            status=status,
        )
