"""Run by test_distributed.py under torchrun with 2 CPU processes (gloo): trains every case with DDP, then
rank 0 trains it again alone on the same global batch, and writes how far the two ended apart.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/distributed_cases.py OUT_DIR
"""
import json
import sys
from pathlib import Path

import torch
import torch.distributed as tdist

import gankit.training.callbacks as callbacks_module
import gankit.training.loop as loop_module
from gankit.core import distributed
from gankit.core.config import merge
from gankit.training import fit, resolve, start_run
from gankit.training.hooks import Callback
from gankit.training.loop import default_callbacks

SAVED: list[Path] = []  # checkpoint writes by this process
_save = callbacks_module.save_checkpoint
# the step-0 checkpoint is written by start_run (into the staging folder), the others by the callback
callbacks_module.save_checkpoint = loop_module.save_checkpoint = \
    lambda path, payload: (SAVED.append(path), _save(path, payload))[1]

SMALL = {"g_width": 8, "d_width": 8, "g_depth": None, "d_depth": None, "g_norm": "none"}
# no batch norm (PyTorch's SyncBatchNorm needs GPUs): then DDP must reproduce one process's training
CASES = {
    "mlp_minimax_smoothing": {"loss": {"name": "minimax", "label_smoothing": 0.1}},
    "mlp_nonsaturating_ema_noise": {"loss": {"name": "nonsaturating"},
                                    "train": {"instance_noise": 0.1, "ema_decay": 0.9}},
    "mlp_least_squares": {"loss": {"name": "least_squares"}},
    "mlp_wgan_gp_conditional": {"model": {"conditional": True},
                                "loss": {"name": "wasserstein", "penalty": "gradient_penalty"},
                                "train": {"n_critic": 2, "d_pretrain_steps": 1}},
    "mlp_hinge_pack2": {"model": {"pack": 2}, "loss": {"name": "hinge"}},
    "mlp_toy_ring_eval": {"data": {"name": "toy_ring"}, "eval": {"every": 4, "n": 64}},
    "dcgan_nonsaturating_reuse": {"model": {"name": "dcgan", **SMALL, "d_norm": "layer"},
                                  "train": {"reuse_fakes": True}},
    "dcgan_acgan": {"model": {"name": "dcgan", **SMALL, "d_norm": "spectral", "conditional": True,
                              "d_cond": "acgan"}},
}
# per-process batch norm: replicas must stay identical, but they normalise over their own shard
# (resnet_sn's generator always has it)
BATCH_NORM = {"dcgan_batch_norm": {"model": {"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": None,
                                             "d_depth": None, "g_norm": "batch", "d_norm": "batch"}},
              "resnet_sn_batch_norm_hinge_r1_conditional": {
                  "model": {"name": "resnet_sn", "g_width": 8, "d_width": 8, "g_depth": None, "d_depth": None,
                            "g_norm": "batch", "conditional": True},
                  "loss": {"name": "hinge", "penalty": "r1", "penalty_weight": 1.0}}}


def config(out: Path, extra: dict):
    base = {"out": str(out), "model": {"g_width": 16, "d_width": 32, "g_norm": "none"},
            "train": {"steps": 8, "batch_size": 16, "log_every": 2, "sample_every": 4, "checkpoint_every": 4,
                      "grid_size": 16, "device": "cpu"}}
    return resolve("digits_mlp", [merge(base, extra)])


def flat(module: torch.nn.Module, buffers: bool = True) -> torch.Tensor:
    tensors = list(module.parameters()) + (list(module.buffers()) if buffers else [])
    return torch.cat([t.detach().float().flatten() for t in tensors])


def gather(vec: torch.Tensor, world: int) -> list[torch.Tensor]:
    parts = [torch.empty_like(vec) for _ in range(world)]
    tdist.all_gather(parts, vec)
    return parts


def spread(vec: torch.Tensor, world: int) -> float:
    """Largest difference between this tensor on any process and on rank 0."""
    parts = gather(vec, world)
    return max((p - parts[0]).abs().max().item() for p in parts)


def case(name: str, extra: dict, out: Path, d: distributed.Dist) -> dict:
    SAVED.clear()
    run = start_run(config(out / name / "multi", extra), d)
    start = flat(run.game.G)
    fit(run)
    ema = run.game.ema.model if run.game.ema is not None else run.game.G
    result = {"spread_G": spread(flat(run.game.G, buffers=False), d.world),
              "spread_D": spread(flat(run.game.D, buffers=False), d.world),
              "spread_ema": spread(flat(ema, buffers="batch_norm" not in name), d.world),
              "saves_per_rank": [int(n) for n in gather(torch.tensor([len(SAVED)]), d.world)],
              "moved_G": (flat(run.game.G) - start).abs().max().item(),
              "step": run.step, "run_dirs": len(list((out / name / "multi").iterdir())) if d.main else None}
    if d.main:
        alone = start_run(config(out / name / "single", extra))
        fit(alone)
        result["diff_G"] = (flat(run.game.G) - flat(alone.game.G)).abs().max().item()
        result["diff_D"] = (flat(run.game.D) - flat(alone.game.D)).abs().max().item()
        result["scale_G"] = flat(alone.game.G).abs().max().item()
        rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
        result["metrics_rows"] = [r["step"] for r in rows]
        result["eval_rows"] = [r["step"] for r in rows if "eval_fid" in r]
    return result


class Poison(Callback):
    """Sets one of G's weights to NaN once, after `step` (on the process it is given to)."""

    def __init__(self, step: int):
        self.step = step

    def on_step(self, run, stats):
        if run.step == self.step:
            self.step = None  # once
            with torch.no_grad():
                next(run.game.G.parameters()).view(-1)[0] = float("nan")


def rollback_case(out: Path, d: distributed.Dist) -> dict:
    """NaN on rank 1 only: both processes must roll back at the same step, to rank 0's checkpoint."""
    cfg = config(out / "rollback", {"train": {"steps": 10, "checkpoint_every": 3, "lr_g": 2e-4}})
    run = start_run(cfg, d)
    fit(run, callbacks=default_callbacks(cfg, main=d.main) + ([Poison(4)] if d.rank == 1 else []))
    result = {"rollbacks": [int(n) for n in gather(torch.tensor([run.session.rollbacks]), d.world)],
              "lr_g": [float(x) for x in gather(torch.tensor([run.game.opt_G.param_groups[0]["lr"]]), d.world)],
              "spread_G": spread(flat(run.game.G), d.world), "step": run.step,
              "finite": bool(torch.isfinite(flat(run.game.G)).all())}
    if d.main:
        rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
        result["events"] = [(r["event"], r["step"]) for r in rows if "event" in r]
    return result


def main(out: Path) -> None:
    d = distributed.init("cpu", timeout_s=120)
    torch.set_num_threads(1)
    results = {name: case(name, extra, out, d) for name, extra in {**CASES, **BATCH_NORM}.items()}
    results["rollback"] = rollback_case(out, d)
    if d.main:
        (out / "results.json").write_text(json.dumps(results, indent=1))
    distributed.shutdown(d)
    distributed.end_process(0)  # as `gankit train` ends under torchrun: no teardown race with gloo's threads


if __name__ == "__main__":
    main(Path(sys.argv[1]))
