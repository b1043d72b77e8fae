"""gankit against a peer's training script run exactly as published, side by side on this machine.

    python benchmarks/peer_asis.py --script PyTorch-GAN/implementations/gan/gan.py \
        --python /path/to/venv/bin/python --archs peer_mlp --out benchmarks/results/peer_asis/peer_asis_gan_cpu.json
    python benchmarks/peer_asis.py --script PyTorch-GAN/implementations/dcgan/dcgan.py \
        --python /path/to/venv/bin/python --archs peer_dcgan peer_dcgan_folded mnist_dcgan

The throughput issue's yardstick is the peer's own script (PyTorch-GAN's gan.py or dcgan.py) as written:
torchvision's MNIST with per-sample Resize/ToTensor/Normalize, numpy latents, a print per batch. baseline.py
re-implements that loop in our own words, which runs the same arithmetic but not every cost of the original;
this script times the original itself. gankit neither ships nor needs the peer's code or torchvision:
check out the peer's repository yourself, put the four MNIST .gz files where its script looks
(`<repo>/data/mnist/MNIST/raw/`; torchvision then verifies them and never downloads), and name a Python
that has torch and torchvision (`--python`). To compare on one torch, run this script with that Python
too, with gankit installed in it (these versions install on the machine the README's figures come from):

    python3 -m venv peerenv && peerenv/bin/pip install torch==2.14.1 torchvision==0.29.1 && peerenv/bin/pip install -e .
    peerenv/bin/python benchmarks/peer_asis.py --python peerenv/bin/python --script ... --conventional peer_mlp

`--conventional ARCH` also times baseline.py's re-implemented tutorial loop in each round, which shows how
much of the peer's cost that re-implementation leaves out.

The script runs unmodified in its own folder. Its per-batch progress line ("[Batch i/n]") is the clock,
and PYTHONUNBUFFERED=1 delivers each line as it is printed, as a terminal would. Rounds alternate the
peer and gankit (the same architecture through gankit's loop, as baseline.py builds it), so both see the
same machine load, and the medians are compared.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import emit

BATCH_LINE = re.compile(r"\[Batch \d+/\d+\]")
PEER_BATCH = 64  # gan.py's and dcgan.py's default --batch_size, and the MNIST presets' that baseline.ARCHS builds on


def peer_rate(python: str, script: Path, batch_size: int, warmup: int, batches: int,
              clock=time.perf_counter) -> float:
    """images/s of `script` over `batches` progress lines after `warmup` of them (one process per call);
    `clock` is read once per progress line (the tests pass a fake one)."""
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([python, script.name], cwd=script.parent, stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env)
        marks: list[float] = []
        try:
            for line in proc.stdout:
                if BATCH_LINE.search(line):
                    marks.append(clock())
                    if len(marks) > warmup + batches:
                        break
        finally:
            proc.kill()
            proc.wait()
        if len(marks) <= warmup + batches:
            err.seek(0)
            raise RuntimeError(f"{script} printed {len(marks)} progress lines; its stderr ends:\n{err.read()[-2000:]}")
    return batches * batch_size / (marks[-1] - marks[warmup])


def peer_versions(python: str) -> str:
    code = "import torch, torchvision; print(torch.__version__, torchvision.__version__)"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    # imported here, not at the top: baseline registers the peer architectures in gankit's model registry,
    # which the tests of peer_rate should not do
    from baseline import ARCHS, conventional, gankit_measure

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", required=True, help="the peer's training script, unmodified")
    parser.add_argument("--python", required=True, help="a Python with torch and torchvision for the script")
    parser.add_argument("--archs", nargs="+", required=True, choices=list(ARCHS),
                        help="gankit's side: architectures as baseline.py builds them")
    parser.add_argument("--batches", type=int, default=200, help="timed batches per round, both sides")
    parser.add_argument("--warmup", type=int, default=30, help="peer batches before its clock starts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conventional", choices=list(ARCHS),
                        help="also time baseline.py's re-implemented tutorial loop on this architecture each round")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    script = Path(args.script).resolve()
    peer, ours, ours_conventional = [], {arch: [] for arch in args.archs}, []
    for _ in range(args.rounds):
        peer.append(peer_rate(args.python, script, PEER_BATCH, args.warmup, args.batches))
        if args.conventional:
            ours_conventional.append(conventional(args.conventional, args.batches, 1, torch.device("cpu"))[0])
        for arch in args.archs:
            ours[arch].append(gankit_measure(arch, args.batches, 1, "cpu")["images_per_sec"])
        print({"peer": round(peer[-1], 1), "conventional": ours_conventional[-1:],
               **{a: round(r[-1], 1) for a, r in ours.items()}}, flush=True)
    peer_median = statistics.median(peer)
    rows = [{"arch": arch, "gankit_images_per_sec": round(statistics.median(rates), 1),
             "gankit_rounds": [round(r, 1) for r in rates],
             "over_peer_as_written": round(statistics.median(rates) / peer_median, 2),
             "over_peer_by_round": [round(r / p, 2) for r, p in zip(rates, peer)]} for arch, rates in ours.items()]
    result = {"command": "python " + " ".join(sys.argv), "machine": platform.processor() or platform.machine(),
              "threads": torch.get_num_threads(), "torch": torch.__version__, "peer_script": script.name,
              "peer_torch_torchvision": peer_versions(args.python), "batch_size": PEER_BATCH,
              "batches_per_round": args.batches, "peer_images_per_sec": round(peer_median, 1),
              "peer_rounds": [round(r, 1) for r in peer]}
    if args.conventional:
        result["conventional"] = {"arch": args.conventional, "rounds": [round(r, 1) for r in ours_conventional],
                                  "images_per_sec": round(statistics.median(ours_conventional), 1)}
    emit(result | {"results": rows}, args.out)


if __name__ == "__main__":
    main()
