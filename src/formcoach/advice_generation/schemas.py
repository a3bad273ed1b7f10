"""Schemas of the advice_generation service: the drill library and the advice artifact."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Posture = Literal["standing", "kneeling", "prone", "supine", "side_lying", "quadruped"]


class LocalizedText(BaseModel):
    ja: str
    en: str


class LocalizedList(BaseModel):
    ja: list[str]
    en: list[str]


class Drill(BaseModel):
    """One drill of the library (advice_generation/drills.yaml)."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: LocalizedText
    aliases: LocalizedList  # other names a user or the seed might type, in both languages
    purpose: LocalizedText
    cues: LocalizedList
    dose: LocalizedText
    posture: Posture
    # Which motion the drill-video generator plays; "hold" drills show a timer, "reps" a counter.
    motion: str
    kind: Literal["hold", "reps", "distance"]
    regressions: list[str] = []  # drill ids
    progressions: list[str] = []  # drill ids


class DrillMatch(BaseModel):
    drill: Drill | None
    suggestions: list[str]  # drill ids, best first
