"""Language handling: every user-facing text exists in Japanese and English."""

from __future__ import annotations

from typing import Literal, TypedDict

Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ja", "en")


class Text(TypedDict):
    ja: str
    en: str


def pick(text: Text | dict[str, str], lang: str) -> str:
    if lang in text:
        return text[lang]  # type: ignore[literal-required]
    return text["en"]  # type: ignore[literal-required]


def parse_accept_language(header: str | None, default: Language = "ja") -> Language:
    """The first of ja/en that the browser lists, by quality order."""
    if not header:
        return default
    best: tuple[float, Language] | None = None
    for part in header.split(","):
        bits = part.strip().split(";q=")
        tag = bits[0].strip().lower()[:2]
        try:
            q = float(bits[1]) if len(bits) > 1 else 1.0
        except ValueError:
            q = 0.0
        if tag in LANGUAGES and (best is None or q > best[0]):
            best = (q, tag)  # type: ignore[assignment]
    return best[1] if best else default
