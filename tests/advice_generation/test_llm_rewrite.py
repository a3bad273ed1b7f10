"""advice_generation: optional LLM rewording, through the real openai SDK and a local fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from formcoach.advice_generation import jobs
from formcoach.advice_generation.library import load_library
from formcoach.advice_generation.llm import numbers, rewrite_advice
from formcoach.advice_generation.schemas import Advice
from formcoach.advice_generation.service import advise
from formcoach.kit.pipeline import ADVICE, ANALYSIS, RunOptions, StageContext
from formcoach.kit.settings import Settings
from formcoach.kit.storage import LocalStorage
from tests.support.fake_chat_server import FakeChatServer, Mode


@pytest.fixture(scope="module")
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer() as running:
        yield running


def analysis() -> dict[str, Any]:
    return {
        "schema": "formcoach.analysis/1",
        "movement": "squat",
        "movement_requested": "squat",
        "view": "side",
        "metrics": {
            "squat_depth_deg": {
                "value": 57.5,
                "unit": "deg",
                "label": {"ja": "テスト", "en": "test"},
                "reference": {"low": 80, "high": 180, "source": "Hartmann 2013"},
                "status": "low",
                "note": None,
            }
        },
        "findings": [
            {
                "code": "squat_shallow",
                "severity": "major",
                "message": {"ja": "浅い", "en": "shallow"},
                "evidence": [],
                "metric": "squat_depth_deg",
            },
            {
                "code": "plank_sag",
                "severity": "minor",
                "message": {"ja": "反り", "en": "sag"},
                "evidence": [],
                "metric": None,
            },
        ],
    }


def settings_for(server: FakeChatServer, tmp_path: Path, timeout: float = 5.0) -> Settings:
    return Settings(
        data_dir=tmp_path,
        llm_base_url=server.base_url,
        llm_model="fake-coach-1",
        llm_api_key="sk-test-key",
        llm_timeout_s=timeout,
    )


def rewrite(
    server: FakeChatServer, tmp_path: Path, mode: Mode, timeout: float = 5.0
) -> dict[str, Any]:
    server.reset(mode)
    rules = advise(analysis())
    result = rewrite_advice(rules, "squat", settings_for(server, tmp_path, timeout), load_library())
    Advice.model_validate(result)
    return result


def test_off_by_default_keeps_the_rule_text(tmp_path: Path) -> None:
    rules = advise(analysis())
    result = rewrite_advice(rules, "squat", Settings(data_dir=tmp_path), load_library())
    assert result["rewritten_by"] is None and result["llm_error"] is None
    assert result["advice"] == rules["advice"]


def test_a_good_answer_rewords_and_keeps_the_decisions(
    server: FakeChatServer, tmp_path: Path
) -> None:
    rules = advise(analysis())
    result = rewrite(server, tmp_path, "good")
    assert result["rewritten_by"] == "fake-coach-1" and result["llm_error"] is None
    assert [a["finding_codes"] for a in result["advice"]] == [
        a["finding_codes"] for a in rules["advice"]
    ]
    assert [a["drills"] for a in result["advice"]] == [a["drills"] for a in rules["advice"]]
    assert result["drills"] == rules["drills"]
    first = result["advice"][0]
    assert first["text"]["en"].startswith("Here is what I noticed")
    assert first["text"]["ja"].startswith("あなたの動画")
    assert first["rule_text"]["text"] == rules["advice"][0]["text"]
    request = server.fake.requests[-1]
    assert request["model"] == "fake-coach-1"
    assert request["messages"][0]["role"] == "system"
    assert server.fake.auth[-1] == "Bearer sk-test-key"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("invented_drill", "names drills not prescribed"),
        ("invented_number", "numbers not in the rules: ['7']"),
        ("not_json", "not JSON"),
        ("error_500", "HTTP 500"),
    ],
)
def test_bad_answers_fall_back_to_the_rule_text(
    server: FakeChatServer, tmp_path: Path, mode: Mode, reason: str
) -> None:
    rules = advise(analysis())
    result = rewrite(server, tmp_path, mode)
    assert result["rewritten_by"] is None
    assert reason in result["llm_error"]
    assert result["advice"] == rules["advice"]


def test_a_slow_endpoint_times_out_to_the_rule_text(server: FakeChatServer, tmp_path: Path) -> None:
    server.fake.slow_s = 1.5
    result = rewrite(server, tmp_path, "slow", timeout=0.5)
    assert result["rewritten_by"] is None
    assert result["llm_error"] == "timeout after 0.5 s"
    assert result["advice"] == advise(analysis())["advice"]


def test_an_unreachable_endpoint_falls_back(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_timeout_s=2
    )
    result = rewrite_advice(advise(analysis()), "squat", settings, load_library())
    assert result["rewritten_by"] is None and "APIConnectionError" in result["llm_error"]


def test_the_stage_writes_the_reworded_advice(server: FakeChatServer, tmp_path: Path) -> None:
    server.reset("good")
    storage = LocalStorage(tmp_path / "files")
    ctx = StageContext(
        run_id=7,
        options=RunOptions(movement="squat"),
        storage=storage,
        settings=settings_for(server, tmp_path),
    )
    ctx.write_json(ANALYSIS, analysis())
    jobs.run(ctx)
    written = ctx.read_json(ADVICE)
    assert written["rewritten_by"] == "fake-coach-1"
    assert written["advice"][0]["finding_codes"] == ["squat_shallow"]


def test_numbers_are_compared_as_written() -> None:
    assert numbers("３ × 20–45 秒, 1.0 and 1,000") == {"3", "20", "45", "1", "1,000"}
