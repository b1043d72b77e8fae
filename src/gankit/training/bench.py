"""Training throughput of a config on this device: images/s, FLOPs per iteration, the share of the device's
measured matmul peak that achieves, and peak memory (`gankit bench`, benchmarks/throughput.py)."""
from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from gankit.core.runtime import resolve_device
from gankit.training.callbacks import Checkpoints, SampleGrids
from gankit.training.config import RunConfig, resolve
from gankit.training.diagnostics import DecisionSurface
from gankit.training.evaluation import PeriodicEval
from gankit.training.hooks import Callback
from gankit.training.loop import default_callbacks, fit, start_run


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n x n matmul on `device` in `dtype`: the ceiling the training throughput is compared to.
    On a GPU the matrices are 4x larger and each timing covers 10 back-to-back products, so launch latency
    does not understate the peak (an understated peak would flatter the training's share of it)."""
    n, per_timing = (n * 4, 10) if device.type == "cuda" else (n, 1)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):  # warm-up: kernel choice, allocation, clocks
        a @ b
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(per_timing):
            a @ b
        sync(device)
        times.append((time.perf_counter() - t0) / per_timing)
    return 2 * n**3 / statistics.median(times) / 1e9


class _Clock(Callback):
    """Records the time at the end of the given steps, after a device sync (so the work really finished);
    other steps run without a sync, as in training."""

    def __init__(self, at: set[int]):
        self.at, self.marks = at, {}

    def on_step(self, run, stats: dict) -> None:
        if run.step in self.at:
            sync(run.device)
            self.marks[run.step] = time.perf_counter()


def per_step_callbacks(cfg: RunConfig) -> list:
    """A real run's callbacks minus those that write files or evaluate on a schedule (grids, surfaces,
    checkpoints, periodic evaluation): what costs something every step."""
    skip = (SampleGrids, DecisionSurface, Checkpoints, PeriodicEval)
    return [cb for cb in default_callbacks(cfg) if not isinstance(cb, skip)]


def _peak_memory_mib(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    # ru_maxrss is the whole process's high-water mark (KiB on Linux, bytes on macOS)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10), "process_peak_rss"


def measure_config(cfg: RunConfig, steps: int = 50, repeats: int = 3, warmup: int = 10) -> dict:
    """Train `cfg` (its `out` should be a scratch folder): `warmup` steps, one step under the FLOP counter,
    then `repeats` windows of `steps` steps; images/s is the median window."""
    cfg.train.steps = warmup + 1 + steps * repeats
    cfg.train.sample_every = cfg.train.checkpoint_every = 0
    device = resolve_device(cfg.train.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    run = start_run(cfg)
    fit(run, callbacks=[], until=warmup)
    with FlopCounterMode(display=False) as counter:
        fit(run, callbacks=[], until=warmup + 1)
    flops = counter.get_total_flops()
    start = run.step
    clock = _Clock({start + r * steps for r in range(repeats + 1)})
    sync(device)
    clock.marks[start] = time.perf_counter()
    fit(run, callbacks=per_step_callbacks(cfg) + [clock])
    times = clock.marks
    rates = [steps * cfg.train.batch_size / (times[start + (r + 1) * steps] - times[start + r * steps])
             for r in range(repeats)]
    rate = statistics.median(rates)
    memory, memory_kind = _peak_memory_mib(device)
    return {"batch_size": cfg.train.batch_size, "images_per_sec": round(rate, 1),
            "windows": [round(r, 1) for r in rates], "flops_per_iteration": flops,
            "gflop_per_iteration": round(flops / 1e9, 3),
            "achieved_gflops": round(flops * rate / cfg.train.batch_size / 1e9, 1),
            "peak_memory_mib": round(memory, 1), "memory_kind": memory_kind}


def device_info(device: torch.device, precision: str = "fp32") -> dict:
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    return {"device": name, "torch": torch.__version__, "precision": precision,
            "matmul_peak_gflops": round(matmul_peak(device, dtype), 1)}


def bench_presets(presets: list[str], overrides: list[dict], device: str = "auto", steps: int = 50,
                  repeats: int = 3) -> dict:
    """measure_config for each preset (in a scratch folder), plus the device and its matmul peak."""
    rows = []
    for preset in presets:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = resolve(preset, [{"train": {"device": device}}, *overrides, {"out": tmp}])
            rows.append({"preset": preset, **measure_config(cfg, steps, repeats)})
    info = device_info(resolve_device(device), cfg.train.precision)
    for row in rows:
        # four significant digits: a tiny model on a busy machine is a small share, not zero
        row["peak_fraction"] = float(f'{row["achieved_gflops"] / info["matmul_peak_gflops"]:.4g}')
    return {**info, "results": rows}


def format_table(bench: dict) -> str:
    """bench_presets' result as a fixed-width table for the terminal."""
    rows, peak = bench["results"], bench["matmul_peak_gflops"]
    title = f"{bench['device']} | torch {bench['torch']} | {bench['precision']} matmul peak {peak:.0f} GFLOP/s"
    head = f"{'preset':<24} {'batch':>5} {'img/s':>9} {'GFLOP/it':>9} {'GFLOP/s':>8} {'% peak':>7} {'mem MiB':>8}"
    lines = [title, head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['preset']:<24} {r['batch_size']:>5} {r['images_per_sec']:>9.1f} "
                     f"{r['gflop_per_iteration']:>9.3f} {r['achieved_gflops']:>8.1f} "
                     f"{100 * r['achieved_gflops'] / peak:>6.1f}% {r['peak_memory_mib']:>8.0f}")
    return "\n".join(lines)
