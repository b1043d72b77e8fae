"""Shared by the benchmark scripts: print results as JSON and optionally write them to a file."""
from __future__ import annotations

import json
from pathlib import Path


def emit(result: dict, out: str) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")


def run_header(run_dir: str) -> dict:
    """What a scored run was: its folder and the preset it was trained from (read from its config.json,
    so a `--run` result never reports the script's default preset instead)."""
    config = json.loads((Path(run_dir) / "config.json").read_text())
    return {"run": run_dir, "preset": config.get("preset", "")}


def train_then_score(preset: str, overrides: list[dict], score, *, steps: int = 0, seed: int = 0,
                     device: str = "auto", keep: str = "", callbacks: list | None = None) -> dict:
    """Train `preset` (with `overrides`) into `keep` or a temporary folder, then return
    {"train_seconds", **score(run_dir)}. `callbacks` replace the standard ones (they must write the
    checkpoint that `score` reads)."""
    import tempfile
    import time

    from gankit.training import fit, resolve, start_run

    with tempfile.TemporaryDirectory() as tmp:
        train = {"seed": seed, "device": device} | ({"steps": steps} if steps else {})
        run = start_run(resolve(preset, overrides + [{"out": keep or tmp, "train": train}]))
        t0 = time.perf_counter()
        fit(run, callbacks)
        seconds = round(time.perf_counter() - t0, 1)
        return {"train_seconds": seconds, **score(str(run.dir))}
