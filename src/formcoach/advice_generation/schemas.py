"""Schemas of the advice_generation service: the drill library and the advice artifact."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    method: Literal["exact", "contains", "fuzzy"] | None = None  # how the drill was found


class DrillLibrary(BaseModel):
    drills: list[Drill] = Field(min_length=1)


# --- rules.yaml -----------------------------------------------------------------------------


class AdviceText(BaseModel):
    """What one focus point says; `detail` may use {value} {low} {high} {plus5} {plus10}."""

    model_config = ConfigDict(extra="forbid")
    title: LocalizedText
    text: LocalizedText
    detail: LocalizedText | None = None
    drills: list[str] = []


class Rule(AdviceText):
    priority: int = Field(ge=1)  # 1 comes first among findings of the same severity
    # Movement-specific wording and drills, e.g. walking instead of running.
    movements: dict[str, AdviceText] = {}


class RuleBook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    max_focus_points: int = Field(ge=1)
    rules: dict[str, Rule]
    # Codes that are shown with the analysis and need no advice of their own.
    ignored: list[str] = []
    maintenance: AdviceText
    # The maintenance focus point of a movement (default: `maintenance`).
    maintenance_by_movement: dict[str, AdviceText] = {}
    # With one of these findings no drill is prescribed at all (a mismatched movement).
    no_drills_when: list[str] = []
    # When a finding with one of these codes is present, `general` replaces `maintenance`.
    general_when: list[str] = []
    general: AdviceText | None = None


# --- advice.json ----------------------------------------------------------------------------


class RuleText(BaseModel):
    title: LocalizedText
    text: LocalizedText


class AdviceItem(BaseModel):
    title: LocalizedText
    text: LocalizedText
    finding_codes: list[str]
    drills: list[str]
    # The rules' own wording, kept when an LLM reworded title and text.
    rule_text: RuleText | None = None
    # The personalised sentence inside `text`, kept while focus points are merged.
    detail: LocalizedText | None = Field(default=None, exclude=True)


class PrescribedDrill(BaseModel):
    drill_id: str
    name: LocalizedText
    dose: LocalizedText
    cues: LocalizedList
    purpose: LocalizedText


class Advice(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    schema_id: str = Field(default="formcoach.advice/1", alias="schema")
    advice: list[AdviceItem]
    drills: list[PrescribedDrill]
    # The model that reworded the advice (None: the rule text), and why rewording was not used.
    rewritten_by: str | None = None
    llm_error: str | None = None
