"""The advice stage: analysis.json -> advice.json (rule-based, optionally reworded by an LLM)."""

from __future__ import annotations

from formcoach.advice_generation.library import load_library
from formcoach.advice_generation.llm import rewrite_advice
from formcoach.advice_generation.service import advise
from formcoach.kit.pipeline import ADVICE, ANALYSIS, StageContext


def run(ctx: StageContext) -> None:
    analysis = ctx.read_json(ANALYSIS)
    advice = advise(analysis)
    ctx.progress(0.2)
    library = load_library(ctx.settings.drill_library_file)
    movement = str(analysis.get("movement", ""))
    ctx.write_json(ADVICE, rewrite_advice(advice, movement, ctx.settings, library))
    ctx.progress(1.0)
