"""What users see never names our internal files (issue 20): reference sources written for
developers ("needs ≥60 fps (biomechanics.md) [H]") lose the file name, keep the rest."""

from __future__ import annotations

import re
from typing import Any

# A file name of the code base, optionally in brackets, with the space before it.
INTERNAL_FILE = re.compile(r"\s*[(（]?\b[\w./-]+\.(?:md|yaml|yml|py|json)\b[)）]?")


def strip_internal(text: str) -> str:
    cleaned = INTERNAL_FILE.sub("", text)
    return re.sub(r"\s{2,}", " ", cleaned).strip(" ;,")


def public(value: Any) -> Any:
    """strip_internal on every string of a JSON-like value."""
    if isinstance(value, str):
        return strip_internal(value)
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value
