"""The web app in a real browser: headless Debian Chromium driven by Playwright, against the
real one-process app (uvicorn in a thread, job runner, real fixture clips).

Screenshots of every page at phone and desktop width go to test-artifacts/ (kept by CI)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    FilePayload,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from formcoach.kit.settings import Settings
from tests.apputil import ADMIN, ADMIN_PW
from tests.conftest import SINGLE_PERSON, make_settings
from tests.media import gradient_clip

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The one-process app with its job runner, as `formcoach serve` starts it."""
    from formcoach.cli import prepare
    from formcoach.gateway.app import create_app

    prepare(settings)
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# --- the scenario --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_settings(tmp_path_factory.mktemp("web"))
    with serve(settings) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.is_file(), "Debian's chromium is missing: `make test` installs it"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def shoot(page: Page, name: str) -> None:
    """The page at desktop and phone width (full page), then back to desktop."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def api_upload(base_url: str, movement: str, clip: Path = SINGLE_PERSON) -> int:
    name = "runner-anna-before.mp4" if clip == SINGLE_PERSON else clip.name
    with open(clip, "rb") as fh:
        response = httpx.post(
            f"{base_url}/api/runs",
            headers=ADMIN,
            files={"video": (name, fh, "video/mp4")},
            data={"movement": movement, "language": "ja"},
            timeout=120,
        )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def wait_ready(page: Page, selector: str) -> None:
    """A <video> that can play: readyState >= 2 (HAVE_CURRENT_DATA) and no media error."""
    page.wait_for_function(
        "s => { const v = document.querySelector(s); return v && v.readyState >= 2 && !v.error; }",
        arg=selector,
        timeout=30000,
    )


def test_web_app_in_chromium(base_url: str, browser: Browser, tmp_path: Path) -> None:
    # Runs started through the API first: a second run for the compare page, and a clip with
    # nobody in it, whose run fails.
    earlier_id = api_upload(base_url, "running")
    failing_id = api_upload(base_url, "walking", gradient_clip(tmp_path / "empty-room.mp4"))
    context = browser.new_context(viewport=DESKTOP, locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Sign in: Japanese, because the browser prefers it.
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    shoot(page, "01-login")
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_contain_text("パスワードが違います")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PW)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("新しい分析")
    shoot(page, "02-new-analysis")

    # A file that is no video: the API's error code and message appear on the page.
    not_video: FilePayload = {"name": "notes.mp4", "mimeType": "video/mp4", "buffer": b"no video"}
    page.set_input_files("#video", files=[not_video])
    page.click("#upload button[type=submit]")
    expect(page.locator("#msg")).to_contain_text("not_a_video")
    expect(page.locator("#msg")).to_contain_text("動画ではありません")

    # Upload a real clip through the page; the progress page updates without reloading.
    page.set_input_files("#video", str(SINGLE_PERSON))
    expect(page.locator("#filename")).to_have_text(SINGLE_PERSON.name)
    page.select_option("#movement", "running")
    page.click("#upload button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=120000)
    run_id = int(page.url.rsplit("/", 1)[1])
    page.evaluate("window.__noReload = true")
    expect(page.locator("#progress-card")).to_be_visible()
    page.wait_for_function(
        "document.querySelectorAll('.stage.st-done').length >= 1", timeout=120000
    )
    shoot(page, "03-progress")
    page.wait_for_selector("#annotated, #failure:not([hidden])", timeout=240000)
    assert page.locator("#failure").is_hidden(), page.locator("#failure").inner_text()
    assert page.evaluate("window.__noReload === true"), "the page reloaded"
    expect(page.locator("#progress-card")).to_be_hidden()

    # Results: the annotated video and a drill video can play.
    wait_ready(page, "#annotated")
    assert page.locator(".metric").count() >= 3
    assert page.locator("svg.chart").count() >= 2
    # Drill videos preload metadata only (several players would hold every connection open):
    # starting one must bring it to a playable state and move its clock.
    drill = page.locator("video.drillvideo").first
    drill.evaluate("v => { v.muted = true; return v.play(); }")
    wait_ready(page, "video.drillvideo")
    page.wait_for_function(
        "document.querySelector('video.drillvideo').currentTime > 0", timeout=20000
    )
    drill.evaluate("v => v.pause()")

    # Clicking a finding's evidence moves the annotated video there, and the chart's playhead.
    seek = page.locator("[data-seek]").first
    target = float(seek.get_attribute("data-seek") or "nan")
    assert target > 0
    before = page.evaluate("document.getElementById('annotated').currentTime")
    seek.click()
    page.wait_for_function(
        "t => Math.abs(document.getElementById('annotated').currentTime - t) < 0.05",
        arg=target,
    )
    assert before != pytest.approx(target)
    page.wait_for_function(
        "() => { const s = document.querySelector('svg.chart');"
        " return +s.querySelector('.playhead').getAttribute('x1') > +s.dataset.x0; }"
    )
    # The chart works from the keyboard too: focus it and step forward.
    page.focus("svg.chart")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function(
        "t => document.getElementById('annotated').currentTime > t + 0.5", arg=target
    )
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "04-results")

    # Switch to English and back: the choice is saved on the user.
    with page.expect_navigation():
        page.click(".langswitch button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#results h2").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("Recommended drills")
    shoot(page, "05-results-en")
    me = httpx.get(f"{base_url}/api/me", headers=ADMIN).json()
    assert me["language"] == "en"
    with page.expect_navigation():
        page.click(".langswitch button[value=ja]")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("body")).to_contain_text("おすすめのドリル")

    # History, with a filter, then compare the two runs with synchronised playback.
    _wait_completed(base_url, earlier_id)
    page.goto(base_url + "/history?person=anna")
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    page.goto(base_url + "/history")
    page.select_option("#f-movement", "running")
    page.click(".filters button")
    expect(page).to_have_url(re.compile(r"movement=running"))
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    shoot(page, "06-history")
    page.check(f"input[name=pick][value='{earlier_id}']")
    page.check(f"input[name=pick][value='{run_id}']")
    page.click("#compare-btn")
    expect(page).to_have_url(re.compile(rf"/compare\?a={earlier_id}&b={run_id}"))
    rows = page.locator("table.cmp tbody tr")
    assert rows.count() >= 5
    # The same clip twice: every angle change is within measurement noise.
    expect(page.locator(".noise-tag").first).to_contain_text("測定誤差の範囲内")
    wait_ready(page, ".syncvideo")
    page.click("#syncplay")
    page.wait_for_function(
        "[...document.querySelectorAll('.syncvideo')].every(v => !v.paused && v.currentTime > 0.2)",
        timeout=20000,
    )
    page.click("#syncplay")
    times = page.evaluate("[...document.querySelectorAll('.syncvideo')].map(v => v.currentTime)")
    assert abs(times[0] - times[1]) < 0.3, times
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "07-compare")

    # The printable report: one A4 page with a QR code per drill video.
    page.goto(f"{base_url}/runs/{run_id}/print")
    assert page.locator(".qr svg").count() >= 1
    shoot(page, "08-print")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "08-print.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    page.emulate_media(media="screen")

    # Accounts: add a user, disable them; create and revoke a token.
    page.goto(base_url + "/admin/users")
    page.fill("#nu-name", "coach1")
    page.fill("#nu-pw", "coach1-password")
    page.click("#add-user button")
    expect(page.locator("tr", has_text="coach1")).to_be_visible()
    page.locator("tr", has_text="coach1").locator("[data-user-active]").click()
    expect(page.locator("tr", has_text="coach1").locator(".badge")).to_have_text("無効")
    page.locator("tr", has_text="coach1").locator("[data-user-active]").click()
    expect(page.locator("tr", has_text="coach1").locator(".badge")).to_have_text("有効")
    page.locator("tr", has_text="coach1").locator("[data-reset]").click()
    page.fill("#reset-pw", "coach1-new-password")
    page.click("#reset-form button[value=save]")
    expect(page.locator("#users-msg")).to_have_text("保存しました。")
    assert httpx.get(f"{base_url}/api/me", auth=("coach1", "coach1-new-password")).is_success
    shoot(page, "09-users")
    page.goto(base_url + "/tokens")
    page.fill("#tk-name", "ci")
    page.click("#new-token button")
    expect(page.locator("#token-value")).to_contain_text("fc_")
    token = page.locator("#token-value").inner_text()
    assert httpx.get(f"{base_url}/api/me", headers={"Authorization": f"Bearer {token}"}).is_success
    # POST /api/tokens commits after it answers (see the report): reload until the list has it.
    for _ in range(20):
        page.reload()
        if page.locator("[data-revoke]").count() == 1:
            break
        page.wait_for_timeout(100)
    expect(page.locator("[data-revoke]")).to_have_count(1)
    shoot(page, "10-tokens")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-revoke]")
    expect(page.locator("[data-revoke]")).to_have_count(0)
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base_url}/api/me", headers=bearer).status_code == 401

    # Delete with confirmation, from the history page.
    page.goto(base_url + "/history")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"[data-delete-run='{earlier_id}']")
    expect(page.locator(f"[data-delete-run='{earlier_id}']")).to_have_count(0)
    deadline = time.monotonic() + 5
    while httpx.get(f"{base_url}/api/runs/{earlier_id}", headers=ADMIN).status_code != 404:
        assert time.monotonic() < deadline, "the deleted run is still there"
        time.sleep(0.1)

    # A failed run says what went wrong and what to do.
    page.goto(f"{base_url}/runs/{failing_id}")
    expect(page.locator("#failure")).to_be_visible(timeout=120000)
    expect(page.locator("#failure")).to_contain_text("no_person_detected")
    expect(page.locator("#failure-hint")).to_contain_text("全身が映るように")
    shoot(page, "11-failed-run")
    assert not errors, errors
    context.close()


def _wait_completed(base_url: str, run_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(f"{base_url}/api/runs/{run_id}", headers=ADMIN).json()
        if body["status"] in ("completed", "failed"):
            assert body["status"] == "completed", body["error"]
            return body
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish")
