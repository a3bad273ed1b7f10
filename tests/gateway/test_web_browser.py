"""The web app in a real browser: headless Debian Chromium driven by Playwright, against the
real one-process app (uvicorn in a thread, job runner, real fixture clips).

Screenshots of every page at phone, tablet and desktop width go to test-artifacts/ (kept by CI)."""

from __future__ import annotations

import re
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
from tests.conftest import SINGLE_PERSON, TWO_PEOPLE, make_settings
from tests.support.apputil import ADMIN, ADMIN_PW
from tests.support.media import gradient_clip
from tests.support.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE: ViewportSize = {"width": 390, "height": 844}
TABLET: ViewportSize = {"width": 820, "height": 1180}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The one-process app with its job runner, as `formcoach serve` starts it."""
    from formcoach.bootstrap import prepare
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
    # The shop's public address: QR codes point there, never at this loopback test server.
    settings = make_settings(
        tmp_path_factory.mktemp("web"), public_url="https://shop.formcoach.example"
    )
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


# Checks in the spirit of axe-core, computed in the page: every form field has a label, every
# button and link a name, every image an alt text, and the text colour of every visible text
# element against its composited background reaches WCAG AA (4.5:1, 3:1 for large text).
A11Y_JS = """() => {
  const problems = [];
  const short = (el) => el.outerHTML.slice(0, 90);
  const shown = (el) => {
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && cs.visibility !== "hidden";
  };
  const ids = (v) => (v || "").split(/\\s+/).map((i) => document.getElementById(i)?.textContent || "").join(" ");
  const name = (el) => ((el.getAttribute("aria-label") || "") + ids(el.getAttribute("aria-labelledby"))
    + (el.textContent || "") + (el.getAttribute("title") || "")
    + [...el.querySelectorAll("img[alt]")].map((i) => i.alt).join("")).trim();
  for (const el of document.querySelectorAll("input, select, textarea")) {
    // Not rendered (hidden, or in a closed dialog): not exposed to assistive technology either.
    if (el.type === "hidden" || !el.getClientRects().length) continue;
    if (!el.labels?.length && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      problems.push("field without label: " + short(el));
  }
  for (const el of document.querySelectorAll("button, a[href], summary"))
    if (shown(el) && !name(el)) problems.push("control without name: " + short(el));
  for (const el of document.querySelectorAll("img")) if (!el.hasAttribute("alt")) problems.push("img without alt: " + short(el));
  const rgba = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3])).concat([1]);
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage !== "none") return null;  // a gradient or picture: not computable
      const c = rgba(cs.backgroundColor);
      if (c && c[3] > 0) layers.push(c);
      if (c && c[3] === 1) break;
    }
    return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]);
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg, video, script, style, [hidden], :disabled, .sr")) continue;
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text || !shown(el)) continue;
    const cs = getComputedStyle(el);
    const bg = background(el);
    if (!bg) continue;
    const fg = over(rgba(cs.color), bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) problems.push(`contrast ${ratio.toFixed(2)} < ${need}: ${cs.color} on rgb(${bg.slice(0, 3).map(Math.round)}) ${short(el)}`);
  }
  return problems;
}"""


def check_a11y(page: Page) -> None:
    problems = page.evaluate(A11Y_JS)
    assert not problems, "\n".join(problems)


def check_focus_ring(page: Page, controls: int = 6) -> None:
    """Tab through the page's controls: each focused one shows an outline of at least 2 px.
    (Focus leaves the page once between its last and first control: that step is skipped.)"""
    seen = 0
    for _ in range(2 * controls):
        page.keyboard.press("Tab")
        tag, style, width = page.evaluate(
            "() => { const e = document.activeElement, cs = getComputedStyle(e);"
            " return [e.tagName, cs.outlineStyle, parseFloat(cs.outlineWidth)]; }"
        )
        if tag == "BODY":
            continue
        assert style != "none" and width >= 2, (tag, style, width)
        seen += 1
        if seen == controls:
            return
    raise AssertionError(f"only {seen} controls reached by Tab")


def shoot(page: Page, name: str) -> None:
    """The page at desktop, tablet and phone width (full page), then back to desktop; the
    page's labels, names and text contrast are checked at each width."""
    for label, size in (("desktop", DESKTOP), ("tablet", TABLET), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        check_a11y(page)
    page.set_viewport_size(DESKTOP)


def api_upload(
    base_url: str, movement: str, clip: Path = SINGLE_PERSON, person: str = "Anna Sato"
) -> int:
    name = "runner-before.mp4" if clip == SINGLE_PERSON else clip.name
    with open(clip, "rb") as fh:
        response = httpx.post(
            f"{base_url}/api/runs",
            headers=ADMIN,
            files={"video": (name, fh, "video/mp4")},
            data={"movement": movement, "language": "ja", "person": person},
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
    earlier_id = api_upload(base_url, "walking", TWO_PEOPLE)
    failing_id = api_upload(
        base_url, "running", gradient_clip(tmp_path / "empty-room.mp4"), person="Empty Room"
    )
    # Two people in view: the results page offers to analyse the other one.
    pair_id = api_upload(base_url, "auto", TWO_PEOPLE, person="Ken & Yui")
    # The walking run takes longer than the 1.7 s clip it replaced: let it finish so that the
    # uploads through the page stay within the per-user queue limit (too_many_queued_runs).
    _wait_completed(base_url, earlier_id)
    context = browser.new_context(viewport=DESKTOP, locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The pages run under a Content-Security-Policy (kit/security.py): nothing may be refused.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )

    # Sign in: Japanese, because the browser prefers it.
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    shoot(page, "01-login")
    check_focus_ring(page)
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_contain_text("パスワードが違います")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PW)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("新しい分析")
    shoot(page, "02-new-analysis")
    check_focus_ring(page)
    # The person field suggests the names used before.
    suggestions = page.locator("#persons option").evaluate_all("os => os.map(o => o.value)")
    assert "Anna Sato" in suggestions and "Ken & Yui" in suggestions, suggestions

    # A file that is no video: the API's error code and message appear on the page.
    not_video: FilePayload = {"name": "notes.mp4", "mimeType": "video/mp4", "buffer": b"no video"}
    page.set_input_files("#video", files=[not_video])
    page.click("#upload button[type=submit]")
    expect(page.locator("#msg")).to_contain_text("not_a_video")
    expect(page.locator("#msg")).to_contain_text("動画ではありません")

    # Upload a real clip through the page; the progress page updates without reloading.
    # The walker of the two-people clip, asked as walking (issue 19: the one-leg balance clip
    # asked as running is now a movement mismatch, with no form faults and no drills).
    page.set_input_files("#video", str(TWO_PEOPLE))
    expect(page.locator("#filename")).to_have_text(TWO_PEOPLE.name)
    page.select_option("#movement", "walking")
    page.fill("#person", "Anna Sato")
    page.click("#upload button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=120000)
    run_id = int(page.url.rsplit("/", 1)[1])
    page.evaluate("window.__noReload = true")
    expect(page.locator("#progress-card")).to_be_visible()
    # Updates arrive as server-sent events (the page falls back to polling only on errors).
    expect(page.locator("#progress-card")).to_have_attribute("data-live", "events")
    expect(page.locator(".pagehead h1")).to_contain_text("Anna Sato")
    page.wait_for_function(
        "() => document.querySelectorAll('.stage.st-done').length >= 1", timeout=120000
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
        "() => document.querySelector('video.drillvideo').currentTime > 0", timeout=20000
    )
    drill.evaluate("v => v.pause()")

    # Issue 18: the view is read from the footage (the woman walks across in side view); the
    # walk was assessed, so the page does not say it could not be.
    expect(page.locator("#view")).to_have_text("撮影方向: 横から (動画から判定)")
    expect(page.locator("body")).not_to_contain_text("この動画ではフォームを評価できませんでした")
    target = float(page.evaluate("document.getElementById('annotated').currentTime"))
    # The chart moves the video from the keyboard: focus it and step forward.
    page.focus("svg.chart")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function(
        "t => document.getElementById('annotated').currentTime > t + 0.5", arg=target
    )
    page.wait_for_function(
        "() => { const s = document.querySelector('svg.chart');"
        " return +s.querySelector('.playhead').getAttribute('x1') > +s.dataset.x0; }"
    )
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "04-results")

    # Switch to English and back: the choice is saved on the user.
    with page.expect_navigation():
        page.click(".langswitch button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#results h2").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("Recommended drills")
    # Issue 18: the view read from the footage is on the page (no view was chosen: "auto").
    expect(page.locator("#view")).to_have_text("Camera view: Side (read from the video)")
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
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    expect(page.locator("table.runs td.person").first).to_have_text("Anna Sato")
    page.goto(base_url + "/history?person=ken")
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    page.goto(base_url + "/history")
    page.select_option("#f-movement", "walking")
    page.click(".filters button")
    expect(page).to_have_url(re.compile(r"movement=walking"))
    expect(page.locator("table.runs tbody tr")).to_have_count(2)
    shoot(page, "06-history")
    page.check(f"input[name=pick][value='{earlier_id}']")
    page.check(f"input[name=pick][value='{run_id}']")
    page.click("#compare-btn")
    expect(page).to_have_url(re.compile(rf"/compare\?a={earlier_id}&b={run_id}"))
    rows = page.locator("table.cmp tbody tr")
    assert rows.count() >= 5
    # The same clip twice: no change is claimed beyond measurement noise. (Issue 18: this
    # oblique clip's angles are all withheld now, so there are no angle changes to tag as
    # noise; test_web_pages.py checks the noise tags themselves.)
    expect(page.locator(".real-tag")).to_have_count(0)
    wait_ready(page, ".syncvideo")
    page.click("#syncplay")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.syncvideo')].every(v => !v.paused && v.currentTime > 0.2)",
        timeout=20000,
    )
    page.click("#syncplay")
    times = page.evaluate("[...document.querySelectorAll('.syncvideo')].map(v => v.currentTime)")
    assert abs(times[0] - times[1]) < 0.3, times
    expect(page.locator("#syncgroup .person")).to_have_count(2)
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "07-compare")

    # The printable report: one A4 page with the share link's QR code and one per drill video,
    # all at the shop's public address.
    page.goto(f"{base_url}/runs/{run_id}/print")
    assert page.locator(".qr svg").count() >= 2
    assert "127.0.0.1" not in page.content()
    expect(page.locator(".phead .person")).to_have_text("Anna Sato")
    shoot(page, "08-print")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "08-print.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    page.emulate_media(media="screen")

    # The subject picker: both people of the two-people clip with their thumbnails; analysing
    # the other one starts a new run of the same upload.
    _wait_completed(base_url, pair_id)
    page.goto(f"{base_url}/runs/{pair_id}")
    cards = page.locator("#people .personcard")
    assert cards.count() >= 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('#people img')].every(i => i.complete && i.naturalHeight > 0)"
    )
    expect(page.locator("#people .personcard.analysed")).to_have_count(1)
    page.locator("#people").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "12-people-desktop.png"))
    check_a11y(page)
    # The other person seen the longest (one seen only briefly fails: too few frames).
    tracks = httpx.get(f"{base_url}/api/runs/{pair_id}/tracks", headers=ADMIN).json()["tracks"]
    chosen = max((t for t in tracks if not t["analysed"]), key=lambda t: t["frames"])["id"]
    page.click(f"[data-reanalyse='{chosen}']")
    page.wait_for_url(lambda url: not url.endswith(f"/runs/{pair_id}"), timeout=30000)
    repeat_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".pagehead")).to_contain_text(f"人物 {chosen}")
    expect(page.locator(".pagehead h1")).to_contain_text("Ken & Yui")
    expect(page.locator("#progress-card")).to_have_attribute("data-live", "events")

    # Accounts: add a user, disable them; create and revoke a token.
    page.goto(base_url + "/admin/users")
    page.fill("#nu-name", "coach1")
    page.fill("#nu-pw", "trainer-pass-2026")
    page.click("#add-user button")
    expect(page.locator("tr", has_text="coach1")).to_be_visible()
    page.locator("tr", has_text="coach1").locator("[data-user-active]").click()
    expect(page.locator("tr", has_text="coach1").locator(".badge")).to_have_text("無効")
    page.locator("tr", has_text="coach1").locator("[data-user-active]").click()
    expect(page.locator("tr", has_text="coach1").locator(".badge")).to_have_text("有効")
    page.locator("tr", has_text="coach1").locator("[data-reset]").click()
    page.fill("#reset-pw", "trainer-new-pass-2026")
    page.click("#reset-form button[value=save]")
    expect(page.locator("#users-msg")).to_have_text("保存しました。")
    assert httpx.get(f"{base_url}/api/me", auth=("coach1", "trainer-new-pass-2026")).is_success
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

    # The new run tracked the same people and measured the chosen one. (Whether that person's
    # movement can then be judged depends on the footage: a failure must say why, on the page.)
    repeat = _wait_completed(base_url, repeat_id, require_success=False)
    assert repeat["subject"] == chosen and repeat["person"] == "Ken & Yui"
    assert [s["status"] for s in repeat["stages"][:2]] == ["done", "done"]
    after = httpx.get(f"{base_url}/api/runs/{repeat_id}/tracks", headers=ADMIN).json()
    assert after["subject"] == chosen and len(after["tracks"]) == len(tracks)
    page.goto(f"{base_url}/runs/{repeat_id}")
    if repeat["status"] == "completed":
        expect(page.locator("#people .personcard.analysed img")).to_have_attribute(
            "alt", f"人物 {chosen}"
        )
    else:
        expect(page.locator("#failure")).to_contain_text(repeat["error"]["code"])
    assert not errors, errors
    context.close()


def _wait_completed(base_url: str, run_id: int, require_success: bool = True) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(f"{base_url}/api/runs/{run_id}", headers=ADMIN).json()
        if body["status"] in ("completed", "failed"):
            assert body["status"] == "completed" or not require_success, body["error"]
            return body
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish")
