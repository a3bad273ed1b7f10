"""Optional rewording of the rule-based advice by an LLM (any OpenAI-compatible chat endpoint).

The rules decide what to say: the focus points, their order, the drills and every number. The
LLM may only make the wording friendlier and more personal. Its answer is checked against the
rule output (same focus points with the same finding codes and drill ids, no drill the rules
did not prescribe, no number the rule output does not contain); anything else, and any error or
timeout, keeps the rule text and records why in advice.json (`llm_error`).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any

import openai

from formcoach.advice_generation.library import Library, normalise
from formcoach.kit.settings import Settings

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """\
You edit coaching advice for a person who filmed themselves running or exercising.
The user message is JSON: {"movement": ..., "advice": [{"finding_codes", "drills", "title",
"text"}], "drills": [{"drill_id", "name", "dose"}]}; title and text have "ja" and "en".
Rewrite each title and text so it reads naturally, warmly and personally, in both Japanese and
English. Rules: keep the same focus points in the same order with the same finding_codes and
drills; do not add, drop or rename any drill; do not add any number, measurement, dose or
claim that is not already in the input; keep the cues' meaning. Answer with JSON only:
{"advice": [{"finding_codes": [...], "drills": [...], "title": {"ja": "...", "en": "..."},
"text": {"ja": "...", "en": "..."}}]}"""

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class Rejected(ValueError):
    """The LLM's answer broke one of the rules it was given."""


def llm_enabled(settings: Settings) -> bool:
    return bool(settings.llm_base_url and settings.llm_model)


def numbers(text: str) -> set[str]:
    """The numbers in a text, full-width digits folded, "1,000" and "1.0" kept as written."""
    folded = unicodedata.normalize("NFKC", text)
    return {n.rstrip("0").rstrip(".") if "." in n else n for n in _NUMBER.findall(folded)}


def _texts(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [t for v in node.values() for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


def _named_drills(text: str, library: Library) -> set[str]:
    """Ids of the drills whose name or alias occurs in a text."""
    norm = normalise(text)
    spaced, tight = f" {norm} ", norm.replace(" ", "")
    return {
        key.drill_id
        for key in library.keys
        if (f" {key.text} " in spaced if key.ascii else key.tight in tight)
    }


def validate(advice: dict[str, Any], answer: Any, library: Library) -> list[dict[str, Any]]:
    """The rewritten focus points, or Rejected with the first rule the answer broke."""
    if not isinstance(answer, dict) or not isinstance(answer.get("advice"), list):
        raise Rejected("the answer is not {'advice': [...]}")
    items: list[dict[str, Any]] = answer["advice"]
    rule_items: list[dict[str, Any]] = advice["advice"]
    if len(items) != len(rule_items):
        raise Rejected(f"{len(items)} focus points instead of {len(rule_items)}")
    rule_text = " ".join(_texts(advice))
    allowed_numbers = numbers(rule_text)
    allowed_drills = {d["drill_id"] for d in advice["drills"]} | _named_drills(rule_text, library)
    rewritten: list[dict[str, Any]] = []
    for i, (item, rule) in enumerate(zip(items, rule_items, strict=True)):
        if not isinstance(item, dict):
            raise Rejected(f"focus point {i + 1} is not an object")
        if list(item.get("finding_codes") or []) != rule["finding_codes"]:
            raise Rejected(f"focus point {i + 1} changed its finding codes")
        if list(item.get("drills") or []) != rule["drills"]:
            raise Rejected(f"focus point {i + 1} changed its drills")
        texts: dict[str, dict[str, str]] = {}
        for field in ("title", "text"):
            value = item.get(field)
            if not isinstance(value, dict) or not all(
                isinstance(value.get(lang), str) and value[lang].strip() for lang in ("ja", "en")
            ):
                raise Rejected(f"focus point {i + 1} lacks a {field} in ja and en")
            texts[field] = {"ja": value["ja"].strip(), "en": value["en"].strip()}
        new_text = " ".join(_texts(texts))
        invented = numbers(new_text) - allowed_numbers
        if invented:
            raise Rejected(f"focus point {i + 1} has numbers not in the rules: {sorted(invented)}")
        extra = _named_drills(new_text, library) - allowed_drills
        if extra:
            raise Rejected(f"focus point {i + 1} names drills not prescribed: {sorted(extra)}")
        rewritten.append(
            {**rule, **texts, "rule_text": {"title": rule["title"], "text": rule["text"]}}
        )
    return rewritten


def _ask(advice: dict[str, Any], movement: str, settings: Settings) -> Any:
    client = openai.OpenAI(
        base_url=settings.llm_base_url,
        # Local servers often need no key, but the SDK insists on one.
        api_key=settings.llm_api_key or "unused",
        timeout=settings.llm_timeout_s,
        max_retries=0,
    )
    payload = {
        "movement": movement,
        "advice": [
            {k: item[k] for k in ("finding_codes", "drills", "title", "text")}
            for item in advice["advice"]
        ],
        "drills": [{k: d[k] for k in ("drill_id", "name", "dose")} for d in advice["drills"]],
    }
    with client:
        response = client.chat.completions.create(
            model=str(settings.llm_model),
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
            ],
            temperature=0.3,
        )
    content = response.choices[0].message.content if response.choices else None
    if not content:
        raise Rejected("the answer was empty")
    try:
        return json.loads(_FENCE.sub("", content.strip()))
    except json.JSONDecodeError as exc:
        raise Rejected(f"the answer is not JSON ({exc.msg})") from None


def rewrite_advice(
    advice: dict[str, Any], movement: str, settings: Settings, library: Library
) -> dict[str, Any]:
    """advice.json with the LLM's wording if it passed every check, else the rule text.

    `rewritten_by` names the model that reworded it (None: the rule text); `llm_error` says
    why the rule text was kept when rewriting was tried.
    """
    out = {**advice, "rewritten_by": None, "llm_error": None}
    if not llm_enabled(settings):
        return out
    error: str
    try:
        answer = _ask(advice, movement, settings)
        out["advice"] = validate(advice, answer, library)
        out["rewritten_by"] = settings.llm_model
        return out
    except Rejected as exc:
        error = f"rejected: {exc}"
    except openai.APITimeoutError:
        error = f"timeout after {settings.llm_timeout_s:g} s"
    except openai.APIStatusError as exc:
        error = f"HTTP {exc.status_code} from the LLM endpoint"
    except openai.APIError as exc:
        error = f"{type(exc).__name__}: {exc.message}"
    log.warning("LLM rewriting not used: %s", error)
    out["llm_error"] = error
    return out
