"""Record mode in real Chromium with a fake camera fed from a fixture clip (issue 21): record
about 5 s, the framing check, device tilt, a resumable upload with one PATCH dropped, the run's
progress and results; camera refused and no camera at all. Screenshots to test-artifacts/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.conftest import FIXTURES, make_settings
from tests.gateway.test_web_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, serve
from tests.support.apputil import ADMIN_PW

SQUAT = FIXTURES / "rohan-squat-barbell-side-portrait.mp4"


def fake_camera(source: Path, dest: Path, start_s: float, seconds: float) -> Path:
    """A .y4m for Chromium's fake capture device: FFmpeg (PyAV) decodes the clip, halves it."""
    with av.open(str(source)) as inp, av.open(str(dest), "w", format="yuv4mpegpipe") as out:
        stream = inp.streams.video[0]
        ostream = out.add_stream("rawvideo", rate=15)
        ostream.width, ostream.height = 304, 540
        ostream.pix_fmt = "yuv420p"
        step, next_t = 1 / 15, start_s
        for frame in inp.decode(stream):
            t = float(frame.time or 0)
            if t < next_t:
                continue
            if t > start_s + seconds:
                break
            next_t += step
            small = frame.reformat(width=304, height=540, format="yuv420p")
            small.pts = None
            out.mux(ostream.encode(small))
        out.mux(ostream.encode(None))
    return dest


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The smallest PATCHes, so that even a take the encoder starved under load goes in
    # several and one can be dropped.
    settings = make_settings(tmp_path_factory.mktemp("rec"), upload_chunk_kb=16)
    with serve(settings) as url:
        yield url


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_camera(SQUAT, tmp_path_factory.mktemp("cam") / "squat.y4m", 8.5, 6.0)


def _launch(pw: object, *extra: str) -> Browser:
    return pw.chromium.launch(  # type: ignore[attr-defined,no-any-return]
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra]
    )


def _with_camera(pw: object, camera_file: Path) -> Browser:
    """Chromium with a fake camera showing camera_file, its permission granted."""
    return _launch(
        pw,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_file}",
    )


def _camera_live(page: Page, base_url: str, movement: str, lang: str) -> None:
    """Signed in, record mode, the movement chosen and the live picture running."""
    _sign_in(page, base_url, lang)
    page.click("#mode-record")
    page.select_option("#movement", movement)
    page.click("#cam-start")
    expect(page.locator("#rec-toggle")).to_be_enabled(timeout=15000)
    _wait_live(page)


def _record_and_use(page: Page, seconds: float) -> None:
    """Record for about `seconds` (0: stop at once), then "use this clip"."""
    page.click("#rec-toggle")
    page.wait_for_selector("#rec-toggle[data-state=recording]", timeout=10000)
    if seconds:
        page.wait_for_timeout(seconds * 1000)
    page.click("#rec-toggle")
    expect(page.locator("#review")).to_be_visible(timeout=10000)
    page.click("#use")


def _nothing_kept(page: Page, base_url: str) -> None:
    """The page, loaded afresh, offers no stored take."""
    page.goto(base_url + "/")
    expect(page.locator("#mode-record")).to_be_visible()
    page.wait_for_timeout(1000)  # the stored take is looked up after load
    assert page.locator("#kept").is_hidden()


def _sign_in(page: Page, base_url: str, lang: str = "ja") -> None:
    page.goto(base_url + "/")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PW)
    page.click("button[type=submit]")
    expect(page.locator("#mode-record")).to_be_visible()
    page.click(f"form.langswitch button[value={lang}]")
    expect(page.locator("html")).to_have_attribute("lang", lang)


def _wait_live(page: Page) -> None:
    # Polled from here: the page's CSP forbids the eval that wait_for_function polls with.
    for _ in range(100):
        if page.evaluate("document.querySelector('#live').videoWidth") > 0:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the live picture never started")


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, width  # type: ignore[index]


def test_record_upload_resume_and_results(base_url: str, camera_file: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _with_camera(pw, camera_file)
        page = browser.new_page(viewport={"width": 1024, "height": 768}, locale="en-GB")
        _sign_in(page, base_url, "en")
        started = time.monotonic()
        page.click("#mode-record")
        # The movement first: without it the camera does not start.
        page.click("#cam-start")
        expect(page.locator("#cam-msg")).to_contain_text("movement")
        page.select_option("#movement", "squat")
        page.select_option("#language", "en")
        tips = page.locator("#guide-tips li")
        expect(tips).to_have_count(4)
        expect(page.locator("#guide-tips li[data-code=view]")).to_contain_text("side-on")
        page.click("#cam-start")
        expect(page.locator("#rec-toggle")).to_be_enabled(timeout=15000)
        _wait_live(page)
        page.screenshot(path=str(ARTIFACTS / "record-01-live-1024x768.png"))
        _no_sideways_scroll(page)

        # One PATCH after the first is dropped on the way: the page must resume.
        patches: list[str] = []

        def drop_second(route: Route) -> None:
            if route.request.method == "PATCH":
                patches.append(route.request.headers.get("upload-offset", ""))
                if len(patches) == 2:
                    route.abort("connectionreset")
                    return
            route.continue_()

        page.route("**/api/uploads/**", drop_second)
        page.click("#rec-toggle")
        # The phone held with its top turned 10° to the left: beta/gamma of that pose.
        page.wait_for_selector("#rec-toggle[data-state=recording]", timeout=10000)
        for _ in range(8):
            page.evaluate(
                "window.dispatchEvent(new DeviceOrientationEvent('deviceorientation',"
                " {alpha: 0, beta: 80, gamma: -90, absolute: false}))"
            )
            page.wait_for_timeout(100)
        expect(page.locator("#framing[data-verdict]")).to_be_visible(timeout=20000)
        verdict = page.locator("#framing").get_attribute("data-verdict")
        page.screenshot(path=str(ARTIFACTS / "record-02-recording-framing.png"))
        page.wait_for_timeout(2500)
        page.click("#rec-toggle")
        expect(page.locator("#review")).to_be_visible(timeout=10000)
        page.screenshot(path=str(ARTIFACTS / "record-03-preview.png"))
        duration = page.evaluate(
            "new Promise(r => { const v = document.querySelector('#preview');"
            " if (v.readyState >= 1) r(v.duration); else v.onloadedmetadata = () => r(v.duration); })"
        )
        assert duration > 0
        page.click("#use")
        page.wait_for_url("**/runs/*", timeout=60000)
        # "Under 30 s from new analysis to a running analysis": the figure of this run (a
        # measurement for the closing note, not a pass mark: timing is the benchmarks' job).
        timing = {"record_mode_to_run_page_s": round(time.monotonic() - started, 1)}
        (ARTIFACTS / "record-timing.json").write_text(json.dumps(timing))
        page.screenshot(path=str(ARTIFACTS / "record-04-progress.png"))
        assert len(patches) >= 3, patches
        # The dropped PATCH was sent again from the offset the server reported.
        assert patches[2] == patches[1], patches
        run_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
        page.wait_for_selector("#run-actions:not([hidden])", timeout=240000)
        page.screenshot(path=str(ARTIFACTS / "record-05-results.png"), full_page=True)
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        run = httpx.get(f"{base_url}/api/runs/{run_id}", cookies=cookies).json()
        # The results show once the report is written; the videos may still be being made.
        assert run["report_ready"] is True, run
        for _ in range(600):
            if run["status"] != "running":
                break
            time.sleep(0.2)
            run = httpx.get(f"{base_url}/api/runs/{run_id}", cookies=cookies).json()
        browser.close()
    assert run["status"] == "completed", run
    assert run["movement"] == "squat" and run["original_filename"].startswith("recording-")
    # beta 80, gamma -90: up in the device frame is (sin 10°, cos 10°): 10° clockwise.
    assert run["camera_roll_deg"] == pytest.approx(10.0, abs=0.2), run
    # The camera shows the side-on lifter, whole and large: the same frames the framing unit
    # test calls good.
    assert verdict == "good", verdict


@pytest.mark.parametrize(
    ("size", "name"),
    [
        ({"width": 390, "height": 844}, "phone-portrait"),
        ({"width": 844, "height": 390}, "phone-landscape"),
        ({"width": 768, "height": 1024}, "tablet-portrait"),
        ({"width": 1024, "height": 768}, "tablet-landscape"),
    ],
)
def test_record_mode_fits_devices(
    base_url: str, camera_file: Path, size: dict[str, int], name: str
) -> None:
    with sync_playwright() as pw:
        browser = _with_camera(pw, camera_file)
        page = browser.new_page(viewport=size, locale="ja-JP", has_touch=True)  # type: ignore[arg-type]
        _camera_live(page, base_url, "walking", "ja")
        page.locator("#rec-toggle").scroll_into_view_if_needed()
        box = page.locator("#rec-toggle").bounding_box()
        assert box is not None and box["width"] >= 44 and box["height"] >= 40, box
        _no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / f"record-device-{name}.png"))
        browser.close()


def _refused(base_url: str, args: list[str], shot: str) -> str:
    with sync_playwright() as pw:
        browser = _launch(pw, *args)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-GB")
        _sign_in(page, base_url, "en")
        page.click("#mode-record")
        page.select_option("#movement", "squat")
        page.click("#cam-start")
        expect(page.locator("#cam-msg")).to_be_visible(timeout=15000)
        text = page.locator("#cam-msg").inner_text()
        page.screenshot(path=str(ARTIFACTS / shot))
        # The file upload still works: back to it, its field and button are there.
        page.click("#mode-file")
        expect(page.locator("#video")).to_be_attached()
        expect(page.locator("#file-submit")).to_be_visible()
        browser.close()
    return text


def test_a_take_the_server_never_got_is_offered_again(base_url: str, camera_file: Path) -> None:
    # The Wi-Fi is gone when "use" is pressed: the take stays in IndexedDB, the page says why,
    # and after a reload it offers to send the take again; once a run is made it is forgotten.
    with sync_playwright() as pw:
        browser = _with_camera(pw, camera_file)
        page = browser.new_page(viewport={"width": 1024, "height": 768}, locale="en-GB")
        _camera_live(page, base_url, "squat", "en")
        offline: list[str] = []

        def no_network(route: Route) -> None:
            offline.append(route.request.method)
            route.abort("internetdisconnected")

        page.route("**/api/uploads**", no_network)
        _record_and_use(page, 3.0)
        expect(page.locator("#use")).to_be_enabled(timeout=20000)
        expect(page.locator("#cam-msg")).not_to_be_empty()
        assert offline and offline[0] == "POST", offline
        page.screenshot(path=str(ARTIFACTS / "record-06-offline.png"))
        page.unroute("**/api/uploads**")
        page.reload()
        expect(page.locator("#kept")).to_be_visible(timeout=10000)
        page.screenshot(path=str(ARTIFACTS / "record-07-kept.png"))
        page.click("#send-kept")
        page.wait_for_url("**/runs/*", timeout=60000)
        run_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        run = httpx.get(f"{base_url}/api/runs/{run_id}", cookies=cookies).json()
        _nothing_kept(page, base_url)
        browser.close()
    assert run["movement"] == "squat" and run["original_filename"].startswith("recording-")


def test_a_refused_take_says_why_before_anyone_leaves(base_url: str, camera_file: Path) -> None:
    # Stopped as soon as it started: the server refuses the take, and the page says so with
    # the code, in the page's language, while the customer is still there.
    with sync_playwright() as pw:
        browser = _with_camera(pw, camera_file)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-GB")
        _camera_live(page, base_url, "squat", "en")
        _record_and_use(page, 0)
        expect(page.locator("#cam-msg")).to_contain_text("video_too_short", timeout=30000)
        text = page.locator("#cam-msg").text_content() or ""
        page.screenshot(path=str(ARTIFACTS / "record-08-refused-take.png"))
        assert "/runs/" not in page.url
        # Refused for what it is: not kept for a resend.
        _nothing_kept(page, base_url)
        browser.close()
    assert "short" in text, text


def test_camera_refused_says_so(base_url: str) -> None:
    text = _refused(
        base_url,
        ["--use-fake-device-for-media-stream", "--deny-permission-prompts"],
        "record-refused.png",
    )
    assert "refused" in text and "Upload a file" in text, text


def test_no_camera_says_so(base_url: str) -> None:
    text = _refused(base_url, ["--use-fake-ui-for-media-stream"], "record-no-camera.png")
    assert "No camera" in text and "Upload a file" in text, text


def test_tus_metadata_round_trip_is_json(base_url: str) -> None:
    # The page's data block is valid JSON with a tip list for every movement.
    with sync_playwright() as pw:
        browser = _launch(pw)
        page = browser.new_page()
        _sign_in(page, base_url)
        data = json.loads(page.locator("#record-data").text_content() or "{}")
        browser.close()
    assert set(data["tips"]) >= {"running", "walking", "squat", "plank", "auto"}
    assert all(len(tips) == 4 for tips in data["tips"].values())
