"""Write a demo generator file (gankit/demos/NAME.pt) from a trained run's checkpoint, and score it.

    GANKIT_DATA=... python docs/scripts/make_demo.py RUN_DIR mnist --out benchmarks/results/demos/mnist.json

The file holds the generator alone (EMA weights in float16, see gankit.checkpoint.save_generator); the
result JSON records the run it came from and `gankit eval demo:NAME` on it, with the standard stamp.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _common import emit  # noqa: E402

from gankit.checkpoint import DEMOS, load_checkpoint, save_generator  # noqa: E402
from gankit.latent.evaluate import EvalOptions, evaluate_run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a trained run directory")
    p.add_argument("name", choices=sorted(DEMOS))
    p.add_argument("--n", type=int, default=10000, help="samples for gankit eval")
    p.add_argument("--out", default="", help="where to write the result JSON")
    args = p.parse_args()
    ckpt = load_checkpoint(args.run)
    target = Path(__file__).resolve().parents[2] / "src" / "gankit" / "demos" / DEMOS[args.name]
    save_generator(target, ckpt, source=f"{Path(args.run).name} (preset {ckpt['config'].get('preset', '')}, "
                                       f"step {ckpt['step']})")
    events = [r["event"] for r in map(json.loads, (Path(args.run) / "metrics.jsonl").read_text().splitlines())
              if "event" in r]
    result = {"demo": f"demo:{args.name}", "file_bytes": target.stat().st_size, "run": str(args.run),
              "preset": ckpt["config"].get("preset", ""), "config": ckpt["config"], "step": ckpt["step"],
              "health_events": events, "eval": evaluate_run(f"demo:{args.name}", EvalOptions(n=args.n), write=False)}
    emit(result, args.out)


if __name__ == "__main__":
    main()
