"""The conventional tutorial training loop, side by side with gankit's, on the same architectures.

    python benchmarks/baseline.py --out benchmarks/results/baseline/baseline_cpu.json
    python benchmarks/baseline.py --archs peer_dcgan --steps 30 --device cuda

The conventional loop is written here the way most GAN tutorials and example collections write it:
a map-style dataset that turns each sample into a PIL image, resizes it and converts it back to a
normalised tensor; a DataLoader that collates per sample; `.to(device)` per batch; NCHW tensors; the
optimizers' default (for-loop) Adam; a sigmoid at the end of D with BCELoss; the generator step first
and the discriminator step on the detached fakes; `.item()` of both losses every iteration.

Architectures (batch 64, MNIST):
  peer_dcgan  the DCGAN of the most used example collection: MNIST resized to 32x32; G = linear to 128x8x8,
              two blocks of 2x nearest upsampling + 3x3 conv (128, 64 channels) with BN, a 3x3 conv to the
              image; D = four stride-2 3x3 convs (16..128 channels, dropout 0.25, BN after the first) and a
              linear head.
  peer_dcgan_folded  the same network, its "upsample + 3x3 conv" pairs computed by gankit's UpsampleConv
              (the identical function, same parameters, 16/36 of their arithmetic).
  peer_mlp    the original MLP GAN of the same collection (= gankit's mnist_mlp architecture).
  mnist_dcgan gankit's default preset model (4x4 stride-2 transposed convolutions, 28x28).
  radford_dcgan64  the 64x64 DCGAN of Radford et al. (preset faces_dcgan, the face crops as RGB) at batch 512,
              the GPU yardstick: run it with --device cuda --gankit-set train.precision=bf16 ....
The gankit loop trains each through `gankit.training.fit` with the standard callbacks (metrics
aggregated on the device, health monitor, diversity probe); the peer architectures are added to the
model registry for this, which is also how a user plugs in a model of their own.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time

import torch
from _common import emit
from PIL import Image
from torch import nn

from gankit.core.config import parse_override
from gankit.data import DataConfig, load_dataset
from gankit.models import MODELS, Family, build_discriminator, build_generator, model_kwargs
from gankit.nn import DiscriminatorHead, UpsampleConv
from gankit.training import resolve
from gankit.training.bench import measure_config, sync


def _up(c_in: int, c_out: int, fold: bool) -> list[nn.Module]:
    """2x nearest upsampling + 3x3 conv, as written or folded into gankit's UpsampleConv (the same function)."""
    if fold:
        return [UpsampleConv(c_in, c_out)]
    return [nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, stride=1, padding=1)]


class PeerDCGANGenerator(nn.Module):
    fold = False

    def __init__(self, shape, z_dim: int = 100, num_classes: int = 0):
        super().__init__()
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        self.s0 = shape[-1] // 4
        self.project = nn.Linear(z_dim, 128 * self.s0 ** 2)
        self.net = nn.Sequential(
            nn.BatchNorm2d(128), *_up(128, 128, self.fold), nn.BatchNorm2d(128, 0.8), nn.LeakyReLU(0.2),
            *_up(128, 64, self.fold), nn.BatchNorm2d(64, 0.8), nn.LeakyReLU(0.2),
            nn.Conv2d(64, shape[0], 3, stride=1, padding=1), nn.Tanh())

    def forward(self, z, y=None):
        return self.net(self.project(z).view(z.shape[0], 128, self.s0, self.s0))


class PeerDCGANDiscriminator(nn.Module):
    def __init__(self, shape, num_classes: int = 0, cond: str = "projection", pack: int = 1):
        super().__init__()
        layers, c_in = [], shape[0]
        for i, c_out in enumerate((16, 32, 64, 128)):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.LeakyReLU(0.2), nn.Dropout2d(0.25)]
            if i > 0:
                layers.append(nn.BatchNorm2d(c_out, 0.8))
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = DiscriminatorHead(128 * (shape[-1] // 16) ** 2)

    def forward(self, x, y=None):
        return self.head(self.features(x), y)


class FoldedPeerDCGANGenerator(PeerDCGANGenerator):
    fold = True


MODELS.add("peer_dcgan", Family(PeerDCGANGenerator, PeerDCGANDiscriminator))
MODELS.add("peer_dcgan_folded", Family(FoldedPeerDCGANGenerator, PeerDCGANDiscriminator))

ARCHS = {  # name -> (preset, overrides)
    "peer_dcgan": ("mnist_dcgan", {"model": {"name": "peer_dcgan", "g_width": None, "d_width": None, "pack": 1},
                                   "data": {"resolution": 32},
                                   "train": {"ema_decay": 0.0}}),
    "peer_dcgan_folded": ("mnist_dcgan", {"model": {"name": "peer_dcgan_folded", "g_width": None, "d_width": None,
                                                    "pack": 1},
                                          "data": {"resolution": 32}, "train": {"ema_decay": 0.0}}),
    "peer_mlp": ("mnist_mlp", {"train": {"ema_decay": 0.0}}),
    "mnist_dcgan": ("mnist_dcgan", {}),
    "mnist_mlp": ("mnist_mlp", {}),
    # Radford et al.'s 64x64 DCGAN (faces as RGB) at batch 512: the issue's GPU yardstick
    "radford_dcgan64": ("faces_dcgan", {"data": {"channels": 3}, "train": {"batch_size": 512}}),
}


class PILDataset(torch.utils.data.Dataset):
    """Per-sample transforms, as tutorials write them: uint8 -> PIL -> resize -> float tensor -> normalise."""

    def __init__(self, images: torch.Tensor, size: int):
        self.images, self.size = images.numpy(), size

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        channels = self.images.shape[1]
        img = Image.fromarray(self.images[i, 0] if channels == 1 else self.images[i].transpose(1, 2, 0))
        if img.size[0] != self.size:
            img = img.resize((self.size, self.size), Image.BILINEAR)
        x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).float().div(255)
        x = x.view(self.size, self.size, channels).permute(2, 0, 1)  # HWC bytes -> CHW, as ToTensor does
        return (x - 0.5) / 0.5, 0


def _forever(loader):
    """Epoch after epoch (the 2,000 faces are only 3 batches of 512)."""
    while True:
        yield from loader


def conventional(arch: str, steps: int, repeats: int, device: torch.device) -> list[float]:
    """images/s of the tutorial loop in `repeats` windows of `steps` iterations."""
    preset, override = ARCHS[arch]
    cfg = resolve(preset, [override])
    # MNIST stays 28x28 here: the per-sample resize to the model's size happens in the loader
    raw = load_dataset(cfg.data if cfg.data.name != "mnist" else DataConfig(name="mnist"))
    size, batch = cfg.data.resolution or raw.x.shape[-1], cfg.train.batch_size
    kwargs = model_kwargs(cfg.model, (raw.x.shape[1], size, size), 0)
    G, D = build_generator(kwargs).to(device), build_discriminator(kwargs).to(device)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    loader = torch.utils.data.DataLoader(PILDataset(raw.x, size), batch_size=batch, shuffle=True, drop_last=True)
    batches, rates = _forever(loader), []
    for window in range(repeats + 1):  # window 0 warms up
        t0 = time.perf_counter()
        for _ in range(steps):
            imgs, _ = next(batches)
            real = imgs.to(device)
            valid = torch.ones(real.shape[0] // cfg.model.pack, device=device)  # a packed D: one score per pack
            fake_label = torch.zeros_like(valid)
            opt_G.zero_grad()
            fake = G(torch.randn(real.shape[0], G.z_dim, device=device))
            g_loss = bce(torch.sigmoid(D(fake)), valid)
            g_loss.backward()
            opt_G.step()
            opt_D.zero_grad()
            d_loss = (bce(torch.sigmoid(D(real)), valid) + bce(torch.sigmoid(D(fake.detach())), fake_label)) / 2
            d_loss.backward()
            opt_D.step()
            _ = (d_loss.item(), g_loss.item())  # the per-iteration progress print
        if window:
            sync(device)
            rates.append(steps * batch / (time.perf_counter() - t0))
    return rates


def gankit_measure(arch: str, steps: int, repeats: int, device: str, overrides: list[dict] | None = None) -> dict:
    """gankit's loop on `arch` (with extra `overrides` for gankit's side): measure_config's result."""
    preset, override = ARCHS[arch]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve(preset, [override, *(overrides or []), {"out": tmp, "train": {"device": device}}])
        return measure_config(cfg, steps, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--gankit-set", action="append", default=[], metavar="KEY=VALUE",
                        help="overrides for gankit's side only (e.g. train.precision=bf16, train.compile=...)")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    ours_overrides = [parse_override(s) for s in args.gankit_set]
    device = torch.device(args.device)
    rows = []
    for arch in args.archs:
        base = conventional(arch, args.steps, args.repeats, device)
        ours = gankit_measure(arch, args.steps, args.repeats, args.device, ours_overrides)
        row = {"arch": arch, "conventional_images_per_sec": round(statistics.median(base), 1),
               "conventional_windows": [round(r, 1) for r in base],
               "gankit_images_per_sec": ours["images_per_sec"], "gankit_windows": ours["windows"],
               "gflop_per_iteration": ours["gflop_per_iteration"]}
        row["speedup"] = round(row["gankit_images_per_sec"] / row["conventional_images_per_sec"], 2)
        print(row, flush=True)
        rows.append(row)
    # the yardstick: the peer's DCGAN as written, in the conventional loop
    peer = next((r["conventional_images_per_sec"] for r in rows if r["arch"] == "peer_dcgan"), None)
    versus = {r["arch"]: round(r["gankit_images_per_sec"] / peer, 2)
              for r in rows if peer and r["arch"] in ("peer_dcgan", "peer_dcgan_folded", "mnist_dcgan")}
    emit({"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
          "torch": torch.__version__, "device": args.device, "gankit_overrides": args.gankit_set,
          "device_name": torch.cuda.get_device_name() if device.type == "cuda" else None,
          "gankit_over_conventional_peer_dcgan": versus, "results": rows}, args.out)


if __name__ == "__main__":
    main()
