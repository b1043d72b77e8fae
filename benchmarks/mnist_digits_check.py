"""Does a trained MNIST generator produce recognisable digits of all ten classes?

    python benchmarks/mnist_digits_check.py runs/00000-mnist-dcgan --n 2000 --out results/mnist_check.json

Trains a small CNN judge on MNIST's training set (2 epochs, ~99% test accuracy, a minute or two on 2
CPU cores; a stand-in until gankit ships its own classifier), reports its test accuracy, then classifies
`--n` samples of the run's generator: the class histogram, how many classes appear with confident
(p >= 0.9) samples, the share of confident samples, and the KL of the class histogram to uniform.
"""
from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from _common import emit
from torch import nn

import gankit
from gankit.data import DataConfig, load_dataset, normalize
from gankit.latent import sample


def judge() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def train_judge(data_dir: str, epochs: int, seed: int) -> tuple[nn.Module, float]:
    torch.manual_seed(seed)
    train = load_dataset(DataConfig(name="mnist", data_dir=data_dir))
    test = load_dataset(DataConfig(name="mnist", data_dir=data_dir, split="test"))
    net = judge()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(train), generator=gen).split(128):
            loss = F.cross_entropy(net(normalize(train.x[idx])), train.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(normalize(x)).argmax(1) for x in test.x.split(1000)])
    return net, (pred == test.labels).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    t0 = time.perf_counter()
    net, accuracy = train_judge(args.data_dir, args.epochs, seed=0)
    G = gankit.load_generator(args.run)
    with torch.no_grad():
        probs = torch.cat([F.softmax(net(x), 1) for x in sample(G, args.n, seed=0).split(500)])
    conf, pred = probs.max(1)
    hist = torch.bincount(pred, minlength=10).float() / args.n
    confident = conf >= 0.9
    classes_confident = torch.unique(pred[confident]).numel()
    kl = sum(p * math.log(p * 10) for p in hist.tolist() if p > 0)
    result = {"run": args.run, "n": args.n, "judge_test_accuracy": round(accuracy, 4),
              "class_histogram": [round(p, 4) for p in hist.tolist()],
              "classes_with_confident_samples": classes_confident,
              "share_confident": round(confident.float().mean().item(), 4),
              "kl_to_uniform": round(kl, 4), "seconds": round(time.perf_counter() - t0, 1)}
    emit(result, args.out)


if __name__ == "__main__":
    main()
