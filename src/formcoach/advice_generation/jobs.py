"""The advice stage: analysis.json -> advice.json."""

from __future__ import annotations

from formcoach.advice_generation.service import advise
from formcoach.kit.pipeline import ADVICE, ANALYSIS, StageContext


def run(ctx: StageContext) -> None:
    analysis = ctx.read_json(ANALYSIS)
    ctx.write_json(ADVICE, advise(analysis))
    ctx.progress(1.0)
