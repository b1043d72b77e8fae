"""Batches drawn by index from a dataset held in (device) memory, with resumable shuffling state."""
from __future__ import annotations

import torch

from gankit.core.errors import GankitError
from gankit.data.dataset import Dataset, normalize


def shard(batch_size: int, rank: int, world: int) -> slice:
    """Process `rank`'s contiguous part of every global batch of `batch_size`, shared by `world` processes."""
    if batch_size % world:
        raise GankitError(f"train.batch_size {batch_size} is the global batch: it must be a multiple of the "
                          f"{world} processes")
    return slice(rank * batch_size // world, (rank + 1) * batch_size // world)


class BatchSampler:
    """Shuffled epochs of fixed-size batches (the incomplete last batch of an epoch is dropped).

    The permutation, the position in it and the RNG state are saved in checkpoints, so a resumed run
    sees exactly the batches an uninterrupted one would.

    Several processes (`world` > 1) share one seeded order of global batches of `batch_size`: process
    `rank` takes its contiguous shard of each. The state is the same on every process and does not
    depend on `world`, so a run resumes exactly with another number of processes.

    `group` > 1 (the packs of a conditional PacGAN D): every run of `group` consecutive samples is of one
    class, so a pack never mixes classes and D sees whether G draws one class the same way twice.

    `flip` (data.flip): each sample mirrored left-right with probability 1/2, a pair's source with its image.
    The draws come from the same saved RNG, one per sample of the global batch, so resume and sharding stay
    exact; without it the RNG is never drawn from, so the batches are those of a run without the option.
    """

    def __init__(self, data: Dataset, batch_size: int, seed: int, rank: int = 0, world: int = 1, group: int = 1,
                 flip: bool = False):
        if batch_size > len(data):
            few = len(data) < 100 and data.kind == "image"
            raise GankitError(f"batch size {batch_size} is larger than the dataset ({len(data)} samples); "
                              + ("a GAN needs a hundred images or more (with augmentation, a few hundred are "
                                 "enough); to try anyway, " if few else "")
                              + f"pass --batch-size N with N ≤ {len(data)} (train.batch_size)")
        self.data = data
        self.batch_size = batch_size
        self.shard = shard(batch_size, rank, world)
        self.group = group
        self.flip = flip
        if group > 1 and (data.labels is None or (batch_size // world) % group):
            raise GankitError(f"packs of one class need labels and a per-process batch that is a multiple of the "
                              f"pack ({group}), got batch {batch_size // world}")
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = self._order()
        self.pos = 0
        self.epoch = 0

    def _order(self) -> torch.Tensor:
        """One epoch's order: a permutation, or with `group` > 1 each class's samples shuffled and cut into
        runs of `group` (the last few left out this epoch), the runs shuffled."""
        if self.group == 1:
            return torch.randperm(len(self.data), generator=self.gen)
        labels, runs = self.data.labels.cpu(), []
        for c in labels.unique().tolist():
            members = (labels == c).nonzero().flatten()
            members = members[torch.randperm(len(members), generator=self.gen)]
            runs.append(members[:len(members) // self.group * self.group].view(-1, self.group))
        runs = torch.cat(runs)
        return runs[torch.randperm(len(runs), generator=self.gen)].flatten()

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(images or points as float [B/world, ...], labels [B/world], sources [B/world, C', H', W'] or None)
        on the dataset's device."""
        if self.pos + self.batch_size > len(self.perm):
            self.perm = self._order()
            self.pos = 0
            self.epoch += 1
        batch = self.perm[self.pos:self.pos + self.batch_size]
        idx = batch[self.shard].to(self.data.x.device, non_blocking=True)
        self.pos += self.batch_size
        x, source = self._mirror(self.data.x[idx], None if self.data.source is None else self.data.source[idx])
        if source is not None:  # image to image: G and D are conditioned on the source image
            return normalize(x), normalize(source)
        labels = None if self.data.labels is None else self.data.labels[idx]
        return normalize(x), labels

    def _mirror(self, x: torch.Tensor, source: torch.Tensor | None) -> tuple:
        """The batch's images and their sources (or None), each pair mirrored alike with probability 1/2 when
        flip is on."""
        if not self.flip:
            return x, source
        # one draw per sample of the global batch, then this process's shard: every process draws alike
        mirror = (torch.rand(self.batch_size, generator=self.gen)[self.shard] < 0.5).to(x.device).view(-1, 1, 1, 1)
        return tuple(None if t is None else torch.where(mirror, t.flip(-1), t) for t in (x, source))

    def _epoch_length(self) -> int:
        if self.group == 1:
            return len(self.data)
        counts = torch.unique(self.data.labels.cpu(), return_counts=True)[1]
        return int((counts // self.group * self.group).sum())

    def _valid_order(self, perm: torch.Tensor) -> bool:
        """Distinct samples of the dataset, all of them (or, grouped, in runs of one class)."""
        if perm.numel() and not 0 <= int(perm.min()) <= int(perm.max()) < len(self.data):
            return False
        if self.group == 1:
            return torch.equal(torch.sort(perm).values, torch.arange(len(perm)))
        runs = self.data.labels.cpu()[perm].view(-1, self.group)
        return len(perm.unique()) == len(perm) and bool((runs == runs[:, :1]).all())

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        perm, pos, epoch = state.get("perm"), state.get("pos"), state.get("epoch")
        if not (isinstance(perm, torch.Tensor) and perm.dtype == torch.int64 and perm.dim() == 1
                and isinstance(pos, int) and isinstance(epoch, int) and 0 <= pos <= len(perm) and epoch >= 0
                and isinstance(state.get("gen"), torch.Tensor)):
            raise GankitError("the checkpoint's data order is damaged (sampler state of the wrong form)")
        if len(perm) != self._epoch_length():
            raise GankitError(f"the checkpoint's data order covers {len(perm)} samples but the dataset gives "
                              f"{self._epoch_length()} an epoch; resume with the same data")
        if not self._valid_order(perm):
            raise GankitError("the checkpoint's data order is damaged (not an order of the dataset)")
        try:
            self.gen.set_state(state["gen"])
        except (RuntimeError, TypeError) as exc:
            raise GankitError("the checkpoint's data order is damaged (its random state does not load)") from exc
        self.perm = state["perm"].clone()
        self.pos = int(state["pos"])
        self.epoch = int(state["epoch"])


class StreamSampler:
    """Batches of fresh samples that the dataset draws on demand (Dataset.stream; data.stream: Moving MNIST
    clips made on the fly), as (targets, sources) like BatchSampler's paired batches.

    Batch i is drawn from (seed, i) alone: the state is the number of batches drawn, so a resumed run sees
    exactly the batches an uninterrupted one would. Every process draws the global batch and takes its shard,
    so a run also resumes exactly with another number of processes.
    """

    def __init__(self, data: Dataset, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if data.stream is None:
            raise GankitError(f"{data.name} is a fixed set, not a stream of fresh samples")
        self.data = data
        self.batch_size = batch_size
        self.shard = shard(batch_size, rank, world)
        self.seed = seed
        self.drawn = 0

    @property
    def epoch(self) -> int:
        """Samples drawn, in passes of the size of the fixed set (what the run would have cycled through)."""
        return self.drawn * self.batch_size // len(self.data)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, source = self.data.stream(self.batch_size, (self.seed, self.drawn))
        self.drawn += 1
        device = self.data.x.device
        return normalize(x[self.shard].to(device)), normalize(source[self.shard].to(device))

    def state_dict(self) -> dict:
        return {"drawn": self.drawn}

    def load_state_dict(self, state: dict) -> None:
        drawn = state.get("drawn") if isinstance(state, dict) else None
        if not isinstance(drawn, int) or isinstance(drawn, bool) or drawn < 0:
            raise GankitError("the checkpoint's data order is not a stream's (it was trained without data.stream; "
                              "resume with the same data)")
        self.drawn = drawn


class SemiSampler:
    """Batches for a semi-supervised GAN: half of each batch from the labelled images (cycled: there may be
    only a hundred), half from all images with their labels hidden (-1), as in Salimans et al. 2016, where
    every step sees a labelled batch and an unlabelled one. Same interface and exact resume as BatchSampler."""

    def __init__(self, data: Dataset, batch_size: int, seed: int, rank: int = 0, world: int = 1, flip: bool = False):
        if batch_size < 2 or batch_size % 2:
            raise GankitError(f"a semi-supervised batch is half labelled, half not: train.batch_size must be even, "
                              f"got {batch_size}")
        labelled = data.labelled()
        if batch_size // 2 > len(labelled):
            raise GankitError(f"half of each batch is labelled images, and {data.name} keeps {len(labelled)} labels: "
                              f"pass --batch-size N with N ≤ {2 * len(labelled)} (or keep more labels)")
        self.parts = {"labelled": BatchSampler(labelled, batch_size // 2, seed, rank, world, flip=flip),
                      "all": BatchSampler(data, batch_size // 2, seed + 1, rank, world, flip=flip)}

    @property
    def epoch(self) -> int:
        """Epochs over all images (the unlabelled part)."""
        return self.parts["all"].epoch

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        x_l, y_l = self.parts["labelled"].next()
        x_u, _ = self.parts["all"].next()
        return torch.cat([x_l, x_u]), torch.cat([y_l, torch.full((len(x_u),), -1, dtype=y_l.dtype, device=y_l.device)])

    def state_dict(self) -> dict:
        return {name: part.state_dict() for name, part in self.parts.items()}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or set(state) != set(self.parts):
            raise GankitError("the checkpoint's data order is not a semi-supervised one (resume with the same model)")
        for name, part in self.parts.items():
            part.load_state_dict(state[name])
