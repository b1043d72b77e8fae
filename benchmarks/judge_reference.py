"""What the bundled judge says of real data: the ceiling a generator's classifier metrics are read against.

    python benchmarks/judge_reference.py mnist fashion_mnist \\
        --out benchmarks/results/judge_reference/judge_real_reference.json

For each dataset: the metrics of `gankit eval --extractor classifier` with the 10,000 test images in the
generator's place (against 10,000 training images, as `gankit eval` compares), and the judge's speed.
"""
from __future__ import annotations

import argparse
import time

from _common import emit

from gankit.data import DataConfig, load_dataset
from gankit.metrics import Features, build_extractor, compute, dataset_key, extract, parse_metrics, real_features


def reference(name: str) -> dict:
    judge = build_extractor("classifier", name)
    cfg = DataConfig(name=name)
    train = load_dataset(cfg)
    real = real_features(train, judge, 10000, key=dataset_key(cfg, train))
    test = load_dataset(DataConfig(name=name, split="test"))
    t0 = time.perf_counter()
    fake = Features(*extract(judge, test.x.split(500)))
    seconds = time.perf_counter() - t0
    return {"dataset": name, "judge": judge.id, "test_accuracy": judge.meta["test_accuracy"],
            "real_test_vs_train": compute(parse_metrics("", True), real, fake),
            "judge_images_per_sec": round(len(test) / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    emit({"references": [reference(name) for name in args.datasets]}, args.out)


if __name__ == "__main__":
    main()
