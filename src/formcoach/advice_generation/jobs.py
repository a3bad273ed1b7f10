"""The advice stage: analysis.json -> advice.json (rule-based, optionally reworded by an LLM)."""

from __future__ import annotations

from formcoach.advice_generation.library import load_library
from formcoach.advice_generation.llm import rewrite_advice
from formcoach.advice_generation.schemas import Advice
from formcoach.advice_generation.service import prescribe
from formcoach.analysis.schemas import Analysis
from formcoach.kit.pipeline import ADVICE, ANALYSIS, StageContext


def run(ctx: StageContext) -> None:
    analysis = ctx.read_model(ANALYSIS, Analysis)
    advice = prescribe(analysis).model_dump(mode="json", by_alias=True)
    ctx.progress(0.2)
    library = load_library(ctx.settings.drill_library_file)
    worded = rewrite_advice(advice, analysis.movement, ctx.settings, library)
    ctx.write_model(ADVICE, Advice.model_validate(worded))
    ctx.progress(1.0)
