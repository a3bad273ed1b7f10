"""The drill library: loading drills.yaml and finding a drill from free text."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from formcoach.advice_generation.schemas import Drill, DrillLibrary, DrillMatch

DEFAULT_DRILL_FILE = Path(__file__).with_name("drills.yaml")
# "Plank: a basic exercise ..." or "Plank, a basic exercise ...": the name comes first.
_CLAUSE_END = re.compile(r"[:;,.!?、。\n(\[{「『]|\s[-–—]\s")
FUZZY_CUTOFF = 0.8  # difflib ratio for a typo-level match ("planck" -> "plank" is 0.91)
SUGGESTION_CUTOFF = 0.3
MAX_SUGGESTIONS = 3


def normalise(text: str) -> str:
    """NFKC, lower case, punctuation and symbols to spaces, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).lower()
    # Category P = punctuation, S = symbols; "ー" (Lm) and letters/digits stay.
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in folded)
    return " ".join(cleaned.split())


def compact(text: str) -> str:
    """Without spaces: Japanese has none, and "A-skip"/"Aスキップ"/"a skip" must meet."""
    return text.replace(" ", "")


def head_of(text: str) -> str:
    """The part naming the drill: before the first colon, else the first clause."""
    folded = unicodedata.normalize("NFKC", text).strip()
    return _CLAUSE_END.split(folded, maxsplit=1)[0]


@dataclass(frozen=True)
class Key:
    text: str  # normalised, with spaces
    drill_id: str

    @property
    def tight(self) -> str:
        return compact(self.text)

    @property
    def ascii(self) -> bool:
        return self.text.isascii()


class Library:
    def __init__(self, drills: list[Drill]) -> None:
        self.drills = drills
        self.by_id = {d.id: d for d in drills}
        if len(self.by_id) != len(drills):
            raise ValueError("duplicate drill ids in the drill library")
        seen: set[tuple[str, str]] = set()
        self.keys: list[Key] = []
        for drill in drills:
            names = [drill.id, drill.name.ja, drill.name.en, *drill.aliases.ja, *drill.aliases.en]
            for name in names:
                norm = normalise(name)
                if norm and (norm, drill.id) not in seen:
                    seen.add((norm, drill.id))
                    self.keys.append(Key(norm, drill.id))
        self.exact = {k.tight: k.drill_id for k in self.keys}

    def match(self, text: str) -> DrillMatch:
        head = normalise(head_of(text))
        whole = normalise(text)
        if not whole:
            return DrillMatch(drill=None, suggestions=[])
        exact = self.exact.get(compact(head)) or self.exact.get(compact(whole))
        if exact:
            return DrillMatch(drill=self.by_id[exact], suggestions=[], method="exact")
        for scope in (head, whole):
            found = self._contained(scope)
            if found:
                return DrillMatch(drill=self.by_id[found], suggestions=[], method="contains")
        target = compact(head) or compact(whole)
        close = difflib.get_close_matches(target, list(self.exact), n=1, cutoff=FUZZY_CUTOFF)
        if close:
            return DrillMatch(
                drill=self.by_id[self.exact[close[0]]], suggestions=[], method="fuzzy"
            )
        return DrillMatch(drill=None, suggestions=self.suggest(target))

    def _contained(self, scope: str) -> str | None:
        """The drill whose longest name or alias occurs in the text (so サイドプランク beats プランク)."""
        if not scope:
            return None
        spaced, tight = f" {scope} ", compact(scope)
        best: Key | None = None
        for key in self.keys:
            # Latin names must match whole words ("bridge" is not in "abridged"); Japanese has
            # no spaces, so a substring is all there is.
            hit = f" {key.text} " in spaced if key.ascii else key.tight in tight
            if hit and (best is None or len(key.tight) > len(best.tight)):
                best = key
        return best.drill_id if best else None

    def suggest(self, target: str) -> list[str]:
        """Drill ids whose names look most like the text, best first."""
        scores: dict[str, float] = {}
        for key in self.keys:
            ratio = difflib.SequenceMatcher(None, target, key.tight).ratio()
            if ratio > scores.get(key.drill_id, 0.0):
                scores[key.drill_id] = ratio
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [drill_id for drill_id, score in ranked if score >= SUGGESTION_CUTOFF][
            :MAX_SUGGESTIONS
        ]


def load_library(path: Path | None = None) -> Library:
    resolved = (path if path is not None else DEFAULT_DRILL_FILE).resolve()
    # The modification time is part of the cache key so an edited file is picked up.
    return _load(str(resolved), resolved.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int) -> Library:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    library = Library(DrillLibrary.model_validate(data).drills)
    for drill in library.drills:
        for other in (*drill.regressions, *drill.progressions):
            if other not in library.by_id:
                raise ValueError(f"{path}: drill {drill.id} refers to unknown drill {other!r}")
    return library
