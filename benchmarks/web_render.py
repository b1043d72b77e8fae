"""How long the web explorer takes to render a grid of 16, per run (a request through the real app).

    python benchmarks/web_render.py RUN_28 RUN_64 --out benchmarks/results/web_render/web_render_cpu.json \\
        --screenshot docs/images/explorer.png

For each run: 3 warm-up requests, then `--repeats` POST /api/sample with 16 fresh seeds; the median time of
the request (generation + PNG encoding + JSON) is reported. With --screenshot (and playwright + chromium),
also saves a screenshot of the page for the first run.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import time

import torch
from _common import emit
from fastapi.testclient import TestClient

from gankit.web import create_app


def measure(run: str, repeats: int, device: str) -> dict:
    client = TestClient(create_app(run, device=device))
    info = client.get("/api/info").json()
    times = []
    for i in range(3 + repeats):
        t0 = time.perf_counter()
        res = client.post("/api/sample", json={"seeds": list(range(16 * i, 16 * i + 16))})
        res.raise_for_status()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return {"run": run, "shape": info["shape"], "ms_per_grid_of_16": round(1000 * statistics.median(times), 1),
            "windows_ms": [round(1000 * t, 1) for t in times]}


def screenshot(run: str, path: str) -> None:
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    from gankit.cli.serve import free_port

    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(create_app(run), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(f"http://127.0.0.1:{port}")
        page.wait_for_selector("body[data-ready='1']")
        page.click("#grid figure:nth-child(1) img")
        page.click("#grid figure:nth-child(6) img")
        page.click("#interpolate")
        page.wait_for_function("document.querySelectorAll('#strip img').length > 2")
        page.screenshot(path=path)
        browser.close()
    server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--screenshot", default="")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    rows = [measure(run, args.repeats, args.device) for run in args.runs]
    if args.screenshot:
        screenshot(args.runs[0], args.screenshot)
    emit({"device": args.device, "threads": torch.get_num_threads(), "results": rows}, args.out)


if __name__ == "__main__":
    main()
