"""L3 report: `build_report(run_dir)` writes report.html (self-contained, opens offline) and its PNG/GIF
figures into run_dir/report/, from the run's files alone (metrics.jsonl, samples/, surfaces/)."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from gankit.core.errors import GankitError
from gankit.core.files import atomic_write_bytes, read_jsonl
from gankit.report import figures

PANELS = [  # (file, series, title, y label, horizontal line, log scale)
    ("losses.png", [("d_loss", "D loss"), ("g_loss", "G loss"), ("penalty", "penalty")], "Losses", "", None, False),
    ("d_outputs.png", [("p_real", "D(x)"), ("p_fake", "D(G(z))")], "D's probability of real", "P(real)", 0.5, False),
    ("d_scores.png", [("d_real", "D(x) logit"), ("d_fake", "D(G(z)) logit")], "D's raw scores", "logit", 0.0, False),
    ("accuracy.png", [("acc_real", "on real"), ("acc_fake", "on fake")], "D accuracy (healthy near 50%)",
     "accuracy", 0.5, False),
    ("grad_norms.png", [("d_grad_norm", "D"), ("g_grad_norm", "G")], "Gradient norms", "L2 norm", None, True),
    ("diversity.png", [("diversity", "diversity / real"), ("class_diversity", "within classes / real"),
                       ("mode_coverage", "mode coverage"),
                       ("class_coverage", "class coverage"), ("high_quality", "high-quality share")],
     "Diversity and coverage", "", 1.0, False),
    ("augment.png", [("augment_p", "augmentation p"), ("augment_r", "E[sign D(real)] (ADA's r)"),
                     ("d_real_sign", "E[sign D(real)] per row")], "Augmentation in front of D", "", 0.6, False),
    ("rates.png", [("lr_g", "G"), ("lr_d", "D")], "Learning rates in force", "rate", None, True),
    ("eval.png", [(f"eval_{k}", k) for k in ("fid", "kid", "is", "precision", "recall", "density", "coverage",
                                             "class_kl")], "Evaluation during training (--eval-every)", "",
     None, False),
]


def read_metrics(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """(metric rows, event rows) of run_dir/metrics.jsonl."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise GankitError(f"{run_dir} has no metrics.jsonl; pass a gankit run directory")
    rows = read_jsonl(path)
    return [r for r in rows if "event" not in r], [r for r in rows if "event" in r]


def _surfaces(run_dir: Path) -> list[dict]:
    out = []
    for path in sorted((run_dir / "surfaces").glob("step_*.npz")):
        with np.load(path) as npz:
            out.append({k: npz[k] for k in npz.files})
    return out


def build_report(run_dir: str | Path) -> dict:
    """Write the figures and report.html; returns {"report": path, "figures": [paths]}."""
    run_dir = Path(run_dir)
    rows, events = read_metrics(run_dir)
    out = run_dir / "report"
    made: dict[str, bytes] = {}
    for name, series, title, ylabel, hline, log in PANELS:
        png = figures.curves(rows, events, series, title, ylabel, hline, log)
        if png is not None:
            made[name] = png
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    for name, data in (("timeline.png", figures.sample_timeline(grids)), ("samples.gif", figures.gif(grids))):
        if data is not None:
            made[name] = data
    surfaces = _surfaces(run_dir)
    if surfaces:
        made["surfaces.png"] = figures.surface_grid(surfaces)
        made["surface.gif"] = figures.gif([figures.surface_frame(s) for s in surfaces], ms=500)
    for name in ("nearest.png", "heldout.gif"):  # written by gankit eval (held-out images; clips' predictions)
        if (run_dir / name).is_file():
            made[name] = (run_dir / name).read_bytes()
    for name, data in made.items():
        atomic_write_bytes(out / name, data)
    page = _html(run_dir, rows, events, made)
    atomic_write_bytes(run_dir / "report.html", page.encode())
    return {"report": str(run_dir / "report.html"), "figures": [str(out / n) for n in made]}


def _img(name: str, data: bytes) -> str:
    mime = "image/gif" if name.endswith(".gif") else "image/png"
    return f'<img alt="{name}" src="data:{mime};base64,{base64.b64encode(data).decode()}">'


def _eval_rows(run_dir: Path) -> str:
    """Table rows for eval.json (written by `gankit eval`): one per extractor."""
    path = run_dir / "eval.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    cells = [(name, r.get("step", "?"), r.get("n", "?"),
              ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["metrics"].items()))
             for name, r in results.items()]
    return "".join(f"<tr><td>{html.escape(str(a))}</td><td>{b}</td><td>{c}</td><td>{html.escape(d)}</td></tr>"
                   for a, b, c, d in cells) or \
        '<tr><td colspan="4">none yet: run <code>gankit eval</code> on this run</td></tr>'


def _html(run_dir: Path, rows: list[dict], events: list[dict], made: dict[str, bytes]) -> str:
    config = {}
    if (run_dir / "config.json").is_file():
        config = json.loads((run_dir / "config.json").read_text())
    last = rows[-1] if rows else {}
    esc = html.escape
    summary = "".join(f"<tr><td>{esc(k)}</td><td>{v:.4g}</td></tr>" if isinstance(v, float) else
                      f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in last.items())
    event_rows = "".join(
        f"<tr><td>{e['step']}</td><td>{esc(e['event'])}</td><td>{esc(json.dumps(e.get('evidence', {})))}</td>"
        f"<td>{esc(e.get('remedy', e.get('action', '')))}</td></tr>" for e in events) or \
        '<tr><td colspan="4">none: no health rule fired</td></tr>'
    order = ["timeline.png", "samples.gif", "surfaces.png", "surface.gif"] + [p[0] for p in PANELS]
    eval_rows = _eval_rows(run_dir)
    imgs = "".join(f"<figure>{_img(n, made[n])}<figcaption>{esc(n)}</figcaption></figure>"
                   for n in order if n in made)
    nearest = "" if "nearest.png" not in made else (
        f"<figure>{_img('nearest.png', made['nearest.png'])}<figcaption>samples (top) above the training image "
        "nearest to each in the extractor's features (bottom): a twin means G copies</figcaption></figure>")
    if "heldout.gif" in made:
        nearest += (f"<figure>{_img('heldout.gif', made['heldout.gif'])}<figcaption>held-out clips: the true frames "
                    "(left) beside the predicted ones (right), from the same past frames</figcaption></figure>")
    what = f"{config.get('data', {}).get('name', '?')} · {config.get('model', {}).get('name', '?')} · " \
           f"{config.get('loss', {}).get('name', '?')} loss"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>gankit report: {esc(run_dir.name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
figure{{display:inline-block;margin:8px}}img{{max-width:100%}}figcaption{{font-size:12px;color:#666}}</style>
</head><body><h1>gankit report: {esc(run_dir.name)}</h1><p>{esc(what)} · {len(rows)} metric rows ·
last step {last.get('step', 0)}</p>
<h2>Health events</h2><table><tr><th>step</th><th>event</th><th>evidence</th><th>remedy / action</th></tr>
{event_rows}</table>
<h2>Evaluation</h2><table><tr><th>extractor</th><th>step</th><th>samples</th><th>metrics</th></tr>
{eval_rows}</table>{nearest}
<h2>Figures</h2>{imgs}
<h2>Last metrics</h2><table>{summary}</table>
<h2>Config</h2><pre>{esc(json.dumps(config, indent=2))}</pre></body></html>
"""
