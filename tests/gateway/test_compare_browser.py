"""The coach's compare page in headless Chromium (issue 20 item 6), on real runs in the
session's app: the balance clip of `completed_runs` and the side-view walk (sports2d demo4, the
one fixture clip with a gait, hence initial contacts to overlay), both in Japanese. Checked: the
different-movement and same-person warnings, the verdict cells, the speed buttons, the frame
step on both videos and the skeleton overlay drawn on its canvas.

The session's app is served over HTTP as it is (uvicorn with its lifespan off: the TestClient
already started the job runner), so the runs the other tests made are reused, not made again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect, sync_playwright

from formcoach.kit.settings import Settings
from tests.conftest import FIXTURES
from tests.gateway.test_web_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, check_a11y
from tests.support.apputil import ADMIN, ADMIN_PW, upload, wait_for_run
from tests.support.threaded_server import ThreadedServer

WALK = FIXTURES / "sports2d-demo4-walk-side.mp4"
VERDICTS = ("改善", "悪化", "変化なし", "増加", "減少", "比較できません")


@pytest.fixture(scope="module")
def base_url(live_app: tuple[TestClient, Settings]) -> Iterator[str]:
    client, _ = live_app
    with ThreadedServer(client.app, "formcoach", lifespan="off", start_timeout_s=30) as server:  # type: ignore[arg-type]
        yield server.origin


@pytest.fixture(scope="module")
def walk_run(live_app: tuple[TestClient, Settings]) -> dict[str, Any]:
    """The side-view walk, labelled as a customer's, through the whole pipeline (~1 min)."""
    client, _ = live_app
    response = upload(client, WALK, ADMIN, movement="auto", language="ja", person="Anna Sato")
    assert response.status_code == 202, response.text
    run = wait_for_run(client, response.json()["id"], ADMIN)
    assert run["status"] == "completed", run
    report = client.get(run["report_url"], headers=ADMIN).json()
    assert report["movement"] == "walking", report["movement"]
    return run


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Page]:
    assert CHROMIUM.is_file(), "Debian's chromium is missing: `make test` installs it"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser: Browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # Japanese: the session's runs are Japanese (no English drill videos in the shared app).
        context = browser.new_context(viewport=DESKTOP, locale="ja-JP")
        page = context.new_page()
        page.goto(base_url + "/login")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PW)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("新しい分析")
        yield page
        browser.close()


def _ready(page: Page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.syncvideo')].every(v => v.readyState >= 2 && !v.error)",
        timeout=30000,
    )


def _times(page: Page) -> list[float]:
    times: list[float] = page.evaluate(
        "[...document.querySelectorAll('.syncvideo')].map(v => v.currentTime)"
    )
    return times


def test_different_movements_and_unknown_person_are_said(
    page: Page,
    base_url: str,
    completed_runs: dict[str, dict[str, Any]],
    walk_run: dict[str, Any],
) -> None:
    single = completed_runs["single_person"]
    assert single["status"] == "completed"
    page.goto(f"{base_url}/compare?a={single['id']}&b={walk_run['id']}")
    warnings = page.locator("#cmp-warnings")
    # The balance clip is "other", the walk is walking: different movements.
    expect(warnings).to_contain_text("種目が異なる分析どうしの比較です。")
    # The balance clip has no person label, neither has an entered height: it cannot be told.
    expect(page.locator("#people-unknown")).to_contain_text("同じ人かどうかは判定できません。")
    expect(page.locator("#people-unknown")).to_contain_text("身長が両方に入力されていない")
    expect(page.locator("#no-phase")).to_have_text("種目が違うため、そろえられる局面がありません。")
    expect(page.locator("#overlay")).to_have_count(0)
    check_a11y(page)


def test_verdicts_speed_frame_step_and_overlay(
    page: Page, base_url: str, walk_run: dict[str, Any]
) -> None:
    run_id = walk_run["id"]
    # The run against itself: every value measured in both is the same, so "no change".
    page.goto(f"{base_url}/compare?a={run_id}&b={run_id}")
    cells = page.locator("td.verdict")
    assert cells.count() >= 3
    texts = cells.all_inner_texts()
    for text in texts:
        # Text and icon, never the colour alone.
        assert any(v in text for v in VERDICTS), text
        assert re.match(r"^[✔✖＝↑↓—]\s", text), text
    measured = page.locator("td.verdict[data-verdict=no_change]")
    assert measured.count() >= 1, texts
    expect(measured.first).to_contain_text("＝ 変化なし")
    expect(
        page.locator("td.verdict[data-verdict=better], td.verdict[data-verdict=worse]")
    ).to_have_count(0)

    _ready(page)
    # Speed: both videos at 0.25x, then 0.5x, then 1x.
    for label, rate in (("0.25×", 0.25), ("0.5×", 0.5), ("1×", 1.0)):
        page.get_by_role("button", name=label, exact=True).click()
        rates = page.evaluate(
            "[...document.querySelectorAll('.syncvideo')].map(v => v.playbackRate)"
        )
        assert rates == [rate, rate], (label, rates)
        expect(page.get_by_role("button", name=label, exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )

    # Frame step: one frame forward moves both clocks by a frame (1/30 s), back returns.
    page.evaluate(
        "[...document.querySelectorAll('.syncvideo')].forEach(v => { v.currentTime = 1.0; })"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.syncvideo')].every(v => !v.seeking)"
    )
    start = _times(page)
    page.click("#framestep-forward")
    page.click("#framestep-forward")
    after = _times(page)
    for s, a in zip(start, after, strict=True):
        assert a == pytest.approx(s + 2 / 30, abs=0.004), (start, after)
    page.click("#framestep-back")
    back = _times(page)
    for s, b in zip(start, back, strict=True):
        assert b == pytest.approx(s + 1 / 30, abs=0.004), (start, back)
    assert all(page.evaluate("[...document.querySelectorAll('.syncvideo')].map(v => v.paused)"))

    # The overlay: the walker's initial contacts, both skeletons drawn on the canvas.
    expect(page.locator("#phase-label")).to_contain_text("接地の瞬間")
    painted = page.evaluate(
        """() => { const c = document.getElementById('overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 2] < 200) n++;
        return n; }"""
    )
    assert painted > 500, painted
    # Stepping to the next contact (the other foot) moves both videos to its times.
    data = page.evaluate("JSON.parse(document.getElementById('overlay-data').textContent)")
    assert len(data["pairs"]) >= 4, data["pairs"]
    expect(page.locator("#phase-label")).to_contain_text(f"1 / {len(data['pairs'])}")
    page.click("#phase-next")
    expect(page.locator("#phase-label")).to_contain_text(f"2 / {len(data['pairs'])}")
    pair = data["pairs"][1]
    page.wait_for_function(
        "() => [...document.querySelectorAll('.syncvideo')].every(v => !v.seeking)"
    )
    for t, want in zip(_times(page), pair["times_s"], strict=True):
        assert t == pytest.approx(want, abs=0.05)
    page.locator("#overlay-card").scroll_into_view_if_needed()
    check_a11y(page)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "compare-coach-desktop.png"), full_page=True)
