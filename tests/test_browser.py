"""End to end in a real headless browser: grid -> pick two -> interpolate -> arithmetic -> upload and invert.

Needs Debian's chromium (/usr/bin/chromium, or $GANKIT_CHROMIUM) and the playwright package; skips without
them unless GANKIT_REQUIRE_BROWSER=1 (set by .ci/run after installing chromium). Screenshots go to
$GANKIT_SCREENSHOTS if set, else to the test's temporary folder.
"""
import base64
import contextlib
import io
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_config
from gankit.training import fit, start_run

CHROMIUM = os.environ.get("GANKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _need_browser():
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install playwright)"
    if reason is None and not Path(CHROMIUM).exists():
        reason = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if reason and os.environ.get("GANKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"GANKIT_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(reason)


def _serve(run_dir):
    """The explorer of `run_dir` on a free local port, in a thread: yields its URL."""
    import uvicorn

    from gankit.cli.serve import free_port
    from gankit.web import create_app

    port = free_port("127.0.0.1")
    srv = uvicorn.Server(uvicorn.Config(create_app(run_dir), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need_browser()
    run = start_run(tiny_config(tmp_path_factory.mktemp("run"), train={"steps": 20}))
    fit(run)
    yield from _serve(run.dir)


@pytest.fixture(scope="module")
def pair_server(tmp_path_factory):
    _need_browser()
    cfg = tiny_config(tmp_path_factory.mktemp("pairs"), data={"name": "edges:digits", "resolution": 16},
                      model={"name": "pix2pix", "g_width": 8, "d_width": 8, "z_dim": 4, "g_depth": None,
                             "d_depth": None}, train={"steps": 20})
    run = start_run(cfg)
    fit(run)
    yield from _serve(run.dir)


def _not_blank(data_url: str) -> bool:
    img = np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))), dtype=np.float32)
    return img.std() > 1.0  # a generated sample, not a flat field


def _srcs(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.src)")


@contextlib.contextmanager
def _open_page(url: str, width: int, height: int):
    """(page, the page's script errors) of the explorer at `url`, once it says it is ready."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": height})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        try:
            yield page, errors
        finally:
            browser.close()


def _shots(tmp_path) -> Path:
    shots = Path(os.environ.get("GANKIT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def test_click_through_the_explorer(server, tmp_path):
    shots = _shots(tmp_path)
    upload = tmp_path / "digit.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 24, dtype=np.uint8), (24, 1))).save(upload)
    with _open_page(server, 1100, 1400) as (page, errors):

        grid = _srcs(page, "#grid img")
        assert len(grid) == 16 and all(_not_blank(s) for s in grid)
        page.click("#shuffle")
        page.wait_for_function("(old) => document.querySelector('#grid img').src !== old", arg=grid[0])
        page.screenshot(path=str(shots / "explorer_grid.png"))

        page.click("#grid figure:nth-child(1) img")
        page.click("#grid figure:nth-child(2) img")
        page.fill("#frames", "6")
        page.click("#interpolate")
        page.wait_for_function("document.querySelectorAll('#strip img').length === 6")
        assert all(_not_blank(s) for s in _srcs(page, "#strip img"))
        page.fill("#scrub", "3")
        page.dispatch_event("#scrub", "input")
        assert _srcs(page, "#scrub-view img") == [_srcs(page, "#strip img")[3]]

        page.click("#grid figure:nth-child(3) .actions button:text('+')")
        page.click("#grid figure:nth-child(4) .actions button:text('+')")
        page.click("#grid figure:nth-child(5) .actions button:text('−')")
        page.click("#compute")
        page.wait_for_function("document.querySelectorAll('#arith-result img').length === 5")
        assert all(_not_blank(s) for s in _srcs(page, "#arith-result img"))
        page.screenshot(path=str(shots / "explorer_arithmetic.png"), full_page=True)

        page.set_input_files("#upload", str(upload))
        page.fill("#invert-steps", "20")
        page.click("#invert")
        page.wait_for_function("document.querySelectorAll('#invert-result img').length === 2", timeout=60_000)
        target, recon = _srcs(page, "#invert-result img")
        assert _not_blank(target) and _not_blank(recon)
        assert page.is_hidden("#error") and not errors
        page.screenshot(path=str(shots / "explorer_invert.png"), full_page=True)
    assert (shots / "explorer_invert.png").stat().st_size > 1000


def test_draw_on_the_canvas_and_see_the_output(pair_server, tmp_path):
    shots = _shots(tmp_path)
    with _open_page(pair_server, 900, 700) as (page, errors):
        assert page.is_visible("#canvas") and page.is_hidden("#grid-section")
        box = page.locator("#canvas").bounding_box()
        page.mouse.move(box["x"] + 60, box["y"] + 40)
        page.mouse.down()
        for k in range(1, 9):  # a stroke down and to the right: translated when the pen lifts
            page.mouse.move(box["x"] + 60 + 15 * k, box["y"] + 40 + 20 * k)
        page.mouse.up()
        page.wait_for_function("document.querySelectorAll('#translate-result img').length === 2", timeout=30_000)
        source, output = _srcs(page, "#translate-result img")
        assert _not_blank(source)  # the stroke, as the run takes it (16 px, grayscale)
        assert output.startswith("data:image/png;base64,")
        assert page.is_hidden("#error") and not errors
        page.screenshot(path=str(shots / "explorer_translate.png"))
