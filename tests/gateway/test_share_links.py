"""Share links in real Chromium against the real app: a fresh browser context (no credentials)
opens the report by its link; an expired or revoked link gets a clear 404/410 page; the token
opens nothing else. The QR codes point at FORMCOACH_PUBLIC_URL, never at the loopback address
the test server listens on."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ViewportSize, sync_playwright
from sqlalchemy import update

from formcoach.accounts.users import utcnow
from formcoach.gateway.shares import token_hash
from formcoach.kit.db import session_scope
from formcoach.kit.settings import Settings
from formcoach.runs.models import ShareLink
from tests.conftest import FIXTURES, make_settings
from tests.gateway.test_web_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, api_upload, serve
from tests.support.apputil import ADMIN

PUBLIC = "https://shop.formcoach.example"
SIZES: dict[str, ViewportSize] = {
    "1024x768": {"width": 1024, "height": 768},
    "768x1024": {"width": 768, "height": 1024},
    "390x844": {"width": 390, "height": 844},
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    settings = make_settings(tmp_path_factory.mktemp("share"), public_url=PUBLIC, share_ttl_days=7)
    with serve(settings) as url:
        yield url, settings


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def run_id(app: tuple[str, Settings]) -> int:
    base, _ = app
    # A clip the analysis can assess (side view, two squats), so the report has measured
    # points, drills and their videos to share.
    rid = api_upload(base, "squat", FIXTURES / "rohan-squat-barbell-side-portrait.mp4")
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/api/runs/{rid}", headers=ADMIN).json()["status"]
        if status in ("completed", "failed"):
            break
        time.sleep(0.5)
    assert status == "completed"
    # The drill videos are generated after the report: wait for them, they are shared too.
    while time.monotonic() < deadline:
        drills = httpx.get(f"{base}/api/runs/{rid}/report", headers=ADMIN).json()["drills"]
        if drills and all(d["video_url"] for d in drills):
            break
        time.sleep(0.5)
    return rid


def new_share(base: str, rid: int) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/runs/{rid}/shares?lang=en", headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_fresh_context_opens_the_shared_report(
    app: tuple[str, Settings], run_id: int, browser: Browser
) -> None:
    base, _ = app
    share = new_share(base, run_id)
    token = share["token"]
    assert len(token) >= 43 and share["url"] == f"{PUBLIC}/s/{token}"
    assert "127.0.0.1" not in share["qr_svg"] and share["state"] == "active"
    context = browser.new_context(locale="en-US")  # no credentials, no cookies
    page = context.new_page()
    response = page.goto(base + share["path"])
    assert response is not None and response.status == 200
    # The report's language (the run was made in Japanese), whatever the browser prefers.
    assert page.locator("html").get_attribute("lang") == "ja"
    page.wait_for_function(
        "() => { const v = document.querySelector('#annotated'); return v && v.readyState >= 2 && !v.error; }",
        timeout=30000,
    )
    drill = page.locator("video.drillvideo").first
    drill.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => document.querySelector('video.drillvideo').currentTime > 0", timeout=30000
    )
    # No navigation into the app: every link and media source stays below this one link.
    urls = page.evaluate(
        """() => [...document.querySelectorAll('a[href], video[src], video[poster], img[src]')]
             .flatMap(e => [e.getAttribute('href'), e.getAttribute('src'), e.getAttribute('poster')])
             .filter(Boolean)"""
    )
    outside = [u for u in urls if not (u.startswith((f"/s/{token}", "?lang=", "#")))]
    assert outside == [], outside
    assert page.locator(".mainnav, form[action='/logout'], [data-share]").count() == 0
    # Summary first: movement and person, 1-3 points, the first drill, above the video.
    assert "スクワット" in page.locator("#sum-analysed").inner_text()
    assert "Anna Sato" in page.locator("#sum-analysed").inner_text()
    assert 1 <= page.locator("#sum-points li").count() <= 3
    assert page.locator("#sum-drill").inner_text().strip()
    top = page.evaluate(
        "() => [document.querySelector('#summary').getBoundingClientRect().top,"
        " document.querySelector('#annotated').getBoundingClientRect().top]"
    )
    assert top[0] < top[1], top
    qr = page.locator("#share-qr")
    assert qr.locator("svg").count() == 1
    assert PUBLIC in qr.inner_text()
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"share-{label}.png"), full_page=True)
    # Switching language switches the page, the advice included.
    page.goto(base + share["path"] + "?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#share-qr h2").inner_text() == "Share link"
    context.close()


def test_the_token_opens_nothing_else(app: tuple[str, Settings], run_id: int) -> None:
    base, _ = app
    token = new_share(base, run_id)["token"]
    with httpx.Client(base_url=base) as anon:
        assert anon.get(f"/s/{token}").status_code == 200
        # The visit left no session behind that opens the app.
        assert anon.get("/history").status_code == 303
        assert anon.get(f"/runs/{run_id}").status_code == 303
        # The token is no API credential.
        bearer = {"Authorization": f"Bearer {token}"}
        assert anon.get(f"/api/runs/{run_id}", headers=bearer).status_code == 401
        assert anon.get(f"/api/runs/{run_id}/report", headers=bearer).status_code == 401
        # Below the link: the report's media only, never the upload or another run's job.
        assert anon.get(f"/s/{token}/files/annotated.mp4").status_code == 200
        assert anon.get(f"/s/{token}/files/upload.bin").status_code == 404
        assert anon.get(f"/s/{token}/files/..%2Fupload.bin").status_code == 404
        assert anon.get(f"/s/{token}/drills/999999").status_code == 404
        # A changed token is another, unknown token.
        wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
        gone = anon.get(f"/s/{wrong}", headers={"Accept-Language": "en"})
        assert gone.status_code == 404 and "This share link does not exist." in gone.text


def test_revoked_and_expired_links(
    app: tuple[str, Settings], run_id: int, browser: Browser
) -> None:
    base, settings = app
    revoked, expired = new_share(base, run_id), new_share(base, run_id)
    assert (
        httpx.delete(f"{base}/api/runs/{run_id}/shares/{revoked['id']}", headers=ADMIN).status_code
        == 204
    )
    with session_scope(settings.db_url) as session:
        session.execute(
            update(ShareLink)
            .where(ShareLink.token_hash == token_hash(expired["token"]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    states = {
        s["id"]: s["state"]
        for s in httpx.get(f"{base}/api/runs/{run_id}/shares", headers=ADMIN).json()
    }
    assert states[revoked["id"]] == "revoked" and states[expired["id"]] == "expired"
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    for name, share in (("revoked", revoked), ("expired", expired)):
        response = page.goto(base + share["path"])
        assert response is not None and response.status == 410
        assert "期限切れか、取り消されました" in page.locator("#share-gone").inner_text()
        assert page.locator("video").count() == 0
        page.screenshot(path=str(ARTIFACTS / f"share-{name}.png"))
        assert httpx.get(f"{base}{share['path']}/files/annotated.mp4").status_code == 410
    context.close()


def test_print_page_carries_the_public_share_qr(
    app: tuple[str, Settings], run_id: int, browser: Browser, tmp_path: Path
) -> None:
    base, _ = app
    context = browser.new_context(
        locale="ja-JP", http_credentials={"username": "admin", "password": "root-test-pw9"}
    )
    page = context.new_page()
    # Signed in through the page (the print page reads the session cookie).
    page.goto(base + "/login")
    page.fill("#username", "admin")
    page.fill("#password", "root-test-pw9")
    page.click("button[type=submit]")
    page.goto(f"{base}/runs/{run_id}/print")
    share_url = page.locator(".pshare a.url").inner_text()
    assert share_url.startswith(f"{PUBLIC}/s/")
    html = page.content()
    assert "127.0.0.1" not in html and "localhost" not in html
    # The printed link opens the report (same path on this test server).
    path = share_url.removeprefix(PUBLIC)
    assert httpx.get(base + path).status_code == 200
    context.close()


def test_pdf_report_renders(app: tuple[str, Settings], run_id: int, tmp_path: Path) -> None:
    """The PDF: A4, Japanese text in a CJK font, summary, frames, drills and the share QR;
    rendered to PNG by poppler's pdftoppm."""
    base, _ = app
    response = httpx.get(f"{base}/api/runs/{run_id}/report.pdf", headers=ADMIN, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.content)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "pts (A4)" in info, info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    # Chromium (Skia) embeds the glyphs as Type 3 fonts: every font embedded, with a Unicode map
    # (the Japanese text below is extracted through it).
    rows = fonts.stdout.strip().splitlines()[2:]
    assert rows and all(r.split()[-5:-3] == ["yes", "no"] for r in rows), fonts.stdout
    text = subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    report = httpx.get(f"{base}/api/runs/{run_id}/report", headers=ADMIN).json()
    summary = report["summary"]
    # Compared without white space: pdftotext breaks lines where the layout wraps them.
    flat = re.sub(r"\s+", "", text)
    for needle in ("分析した内容", "大切なこと", "次にやること", summary["next_drill"]["name"]):
        assert needle in flat, needle
    for drill in report["drills"]:
        assert re.sub(r"\s+", "", drill["name"]) in flat
    assert "127.0.0.1" not in flat and f"{PUBLIC}/s/" in flat
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True)
    # A frame of the annotated video per evidence moment (at most 4) and one of each drill.
    moments: list[float] = []
    for point in summary["points"] + report["findings"]:
        for e in point.get("evidence", [])[:1]:
            t = float(e["start_s"]) + (float(e["end_s"]) - float(e["start_s"])) / 2
            if all(abs(t - m) > 0.2 for m in moments):
                moments.append(t)
    expected = min(len(moments), 4) + sum(1 for d in report["drills"] if d["video_url"])
    assert report["drills"] and expected >= 1
    assert len(images.stdout.strip().splitlines()) - 2 == expected, images.stdout
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", str(pdf), str(ARTIFACTS / "report-pdf")], check=True
    )
    pngs = sorted(ARTIFACTS.glob("report-pdf*.png"))
    assert len(pngs) >= pages
    from PIL import Image

    with Image.open(pngs[0]) as first:
        assert first.size == (496, 702), first.size
        # Not blank: the page holds ink (text, frames, QR).
        assert first.convert("L").getextrema()[0] < 60


def test_one_language_and_no_internal_names(
    app: tuple[str, Settings], run_id: int, browser: Browser
) -> None:
    """A Japanese upload error is Japanese only; the pages name no internal file or raw key."""
    base, _ = app
    response = httpx.post(
        f"{base}/api/runs",
        headers=ADMIN,
        files={"video": ("notes.mp4", b"no video at all", "video/mp4")},
        data={"movement": "running", "language": "ja"},
    )
    error = response.json()["error"]
    assert error["code"] == "not_a_video"
    assert not re.search(r"[A-Za-z]{3,}", error["message"]), error["message"]
    share = new_share(base, run_id)
    context = browser.new_context(
        http_credentials={"username": "admin", "password": "root-test-pw9"}
    )
    page = context.new_page()
    for path in (share["path"], share["path"] + "?lang=en"):
        page.goto(base + path)
        text = page.locator("body").inner_text()
        titles = page.evaluate("() => [...document.querySelectorAll('[title]')].map(e => e.title)")
        seen = text + " ".join(titles)
        assert not re.search(r"\b\w+\.(md|yaml|py)\b", seen), re.findall(r"\S+\.md", seen)
        assert not re.search(r"\b[a-z]+_(jpg|json|csv|trc|mot|mp4)\b", seen)
    context.close()
    report = httpx.get(f"{base}/api/runs/{run_id}/report", headers=ADMIN).json()
    assert ".md" not in str(report["metrics"]), "internal file name in a reference source"


def test_tablet_first_layout(app: tuple[str, Settings], run_id: int, browser: Browser) -> None:
    """At 1024×768 the summary starts in the first screen and the annotated video fills the
    content width; at 768 px the top menu is one row; screenshots at the three sizes."""
    base, _ = app
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#username", "admin")
    page.fill("#password", "root-test-pw9")
    page.click("button[type=submit]")
    page.goto(f"{base}/runs/{run_id}")
    # Colour follows severity: a red card only where the metric's finding is moderate/major.
    cards = page.evaluate(
        """() => [...document.querySelectorAll('.metric')].map(m => ({
             sev: m.dataset.severity, cls: m.className,
             border: getComputedStyle(m).borderTopColor}))"""
    )
    red = "rgb(163, 38, 27)"
    assert cards
    for card in cards:
        assert (card["border"] == red) == (
            card["sev"] in ("major", "moderate")
            and ("ms-low" in card["cls"] or "ms-high" in card["cls"])
        ), card
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(200)
        box = page.evaluate(
            """() => {
              const r = (s) => document.querySelector(s).getBoundingClientRect();
              const card = document.querySelector('.videos');
              const cs = getComputedStyle(card);
              const inner = card.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
              const links = [...document.querySelectorAll('.mainnav a')].map(a => a.getBoundingClientRect().top);
              return {summary: r('#summary').top, video: r('#annotated').width, inner,
                      navRows: new Set(links.map(Math.round)).size};
            }"""
        )
        page.screenshot(path=str(ARTIFACTS / f"results-{label}.png"))
        assert box["video"] >= 0.9 * box["inner"], (label, box)
        if label == "1024x768":
            assert box["summary"] < 300, box
        if label == "768x1024":
            assert box["navRows"] == 1, box
    context.close()
