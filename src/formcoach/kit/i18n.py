"""Language handling: every user-facing text exists in Japanese and English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ja", "en")


# A user-facing text in both languages: {"ja": ..., "en": ...}.
Text = Mapping[str, str]


def as_language(value: object) -> Language | None:
    """``value`` as a Language when it names one (a form field, a query, a session entry)."""
    if value == "ja":
        return "ja"
    if value == "en":
        return "en"
    return None


def pick(text: Mapping[str, str], lang: Language) -> str:
    return text.get(lang) or text["en"]


def parse_accept_language(header: str | None, default: Language = "ja") -> Language:
    """The first of ja/en that the browser lists, by quality order."""
    return accepted_language(header) or default


def accepted_language(header: str | None) -> Language | None:
    """ja or en as an Accept-Language header ranks them; None when it names neither."""
    if not header:
        return None
    best: tuple[float, Language] | None = None
    for part in header.split(","):
        bits = part.strip().split(";q=")
        tag = bits[0].strip().lower()[:2]
        try:
            q = float(bits[1]) if len(bits) > 1 else 1.0
        except ValueError:
            q = 0.0
        if tag in LANGUAGES and q > 0 and (best is None or q > best[0]):
            best = (q, tag)
    return best[1] if best else None
