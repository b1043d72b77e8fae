"""Training throughput of presets on this machine: `gankit bench` with its results written as JSON.

    python benchmarks/throughput.py --presets mnist_dcgan mnist_mlp digits_mlp \\
        --out benchmarks/results/throughput/throughput_cpu.json
    python benchmarks/throughput.py --presets mnist_dcgan --device cuda --set train.precision=bf16 \\
        --set train.batch_size=512 --out benchmarks/results/throughput/throughput_gpu_bf16.json

Each preset: 10 warm-up steps, one step under torch's FLOP counter, then `--repeats` timed windows of
`--steps` steps with the per-step diagnostics of a real run (no sample grids or checkpoints); the median
window is reported with the share of this device's matmul peak it achieves (measured in the same run).
"""
from __future__ import annotations

import argparse
import platform

import torch
from _common import emit

from gankit.core.config import parse_override
from gankit.training.bench import bench_presets, format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["mnist_dcgan", "mnist_mlp", "digits_mlp"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    result = bench_presets(args.presets, [parse_override(s) for s in args.set], args.device, args.steps, args.repeats)
    print(format_table(result))
    emit({"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
          "overrides": args.set, **result}, args.out)


if __name__ == "__main__":
    main()
