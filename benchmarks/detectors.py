"""How well the health monitor detects broken runs, and that it stays quiet on healthy ones.

    python benchmarks/detectors.py --out benchmarks/results/detectors/detectors.json

Healthy: the presets `digits_mlp` and `toy_ring` trained to the end with the default health settings;
every event counts as a false alarm. Broken: `digits_mlp` trained normally until step ONSET (1,000), then
sabotaged — `collapse`: G's output layer zeroed and its learning rate set to ~0 (G emits one image);
`overpower`: G frozen (lr ~0) while D's learning rate rises 10x; `diverge`: both learning rates set to 10.
Each broken run continues for 1,000 steps; reported: the events raised and the delay from ONSET to the
first event of the expected kind (target: within 500 steps).
"""
from __future__ import annotations

import argparse
import tempfile

import torch
from _common import emit

from gankit.training import fit, resolve, start_run
from gankit.training.hooks import Callback
from gankit.training.loop import default_callbacks

ONSET = 1000
EXPECTED = {"collapse": "mode_collapse", "overpower": "discriminator_overpowering", "diverge": "divergence"}


def _set_lr(opt, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


class Sabotage(Callback):
    def __init__(self, kind: str, at: int):
        self.kind, self.at = kind, at

    @torch.no_grad()
    def on_step(self, run, stats) -> None:
        if run.step != self.at:
            return
        game = run.game
        if self.kind == "collapse":
            last = [m for m in game.G.modules() if isinstance(m, torch.nn.Linear)][-1]
            last.weight.zero_()
            _set_lr(game.opt_G, 1e-12)
        elif self.kind == "overpower":
            _set_lr(game.opt_G, 1e-12)
            _set_lr(game.opt_D, 10 * game.opt_D.param_groups[0]["lr"])
        elif self.kind == "diverge":
            _set_lr(game.opt_G, 10.0)
            _set_lr(game.opt_D, 10.0)


def trial(preset: str, kind: str | None, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve(preset, [{"out": tmp, "train": {"seed": seed, "device": "cpu", "sample_every": 0,
                                                      "checkpoint_every": 0}}])
        run = start_run(cfg)
        callbacks = default_callbacks(cfg, run.data.kind == "points")
        if kind:
            callbacks.insert(0, Sabotage(kind, ONSET))
        fit(run, callbacks=callbacks, until=ONSET + 1000 if kind else None)
    events = [(e.name, e.step) for e in run.session.events]
    result = {"preset": preset, "sabotage": kind, "seed": seed, "events": events}
    if kind:
        hits = [step for name, step in events if name == EXPECTED[kind] and step >= ONSET]
        result["delay_steps"] = hits[0] - ONSET if hits else None
        result["detected_within_500"] = bool(hits) and hits[0] - ONSET <= 500
    else:
        result["false_alarms"] = len(events)
    print(result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    results = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        results += [trial(p, None, seed) for p in ("digits_mlp", "toy_ring")]
        results += [trial("digits_mlp", kind, seed) for kind in EXPECTED]
    broken = [r for r in results if r["sabotage"]]
    emit({"onset": ONSET, "trials": results,
          "broken_detected_within_500": f"{sum(r['detected_within_500'] for r in broken)}/{len(broken)}",
          "healthy_false_alarms": sum(r.get("false_alarms", 0) for r in results)}, args.out)


if __name__ == "__main__":
    main()
