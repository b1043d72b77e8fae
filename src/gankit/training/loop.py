"""The one training loop, and how a run is started or resumed around it."""
from __future__ import annotations

import errno
import json
import logging
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gankit.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from gankit.core.config import from_dict, merge, to_dict
from gankit.core.distributed import Dist, from_main, is_comm_error
from gankit.core.errors import GankitError
from gankit.core.files import (STAGING_PREFIX, append_jsonl, check_output_folder, atomic_write_bytes, atomic_write_json,
                               publish_run_dir, read_jsonl, remove_stale_temp_files, staging_dir)
from gankit.augment import AUTO_SOURCES, resolve_auto
from gankit.core.runtime import resolve_device
from gankit.data import BatchSampler, Dataset, SemiSampler, StreamSampler, load_dataset, normalize
from gankit.data.clusters import draw_labels
from gankit.losses import LOSSES
from gankit.training.callbacks import Checkpoints, MetricsLog, SampleGrids, TimeLimit
from gankit.training.config import RunConfig, upgrade_config, validate
from gankit.training.controllers import AugmentStrength, Controller, Rates
from gankit.training.diagnostics import Balance, DecisionSurface, DiversityProbe, HealthCallback
from gankit.training.hooks import Event, StopTraining
from gankit.training.evaluation import PeriodicEval
from gankit.training.health import REMEDIES
from gankit.training.parallel import distribute
from gankit.training.safety import StepGuard, StopFlag, graceful_signals, rollback
from gankit.models import MODELS, model_kwargs
from gankit.training.session import (build_game, check_same_architecture, check_saved_networks, game_state,
                                      restore_position)
from gankit.training.schedules import lr_schedule, top_k_share
from gankit.training.steps import Game, d_step, g_step, generate


log = logging.getLogger("gankit")


@dataclass
class Session:
    """What happened in this process's stretch of a run (not saved: a resumed run starts a new one)."""

    t_start: float = field(default_factory=time.perf_counter)
    last_metrics: dict = field(default_factory=dict)  # the latest metrics row
    events: list[Event] = field(default_factory=list)  # events raised: health findings, rollbacks
    diverged: bool = False  # set when rollbacks did not help; stops checkpoint writes
    explosion: Event | None = None  # a gradient explosion the health monitor found: rolled back like NaN
    rollbacks: int = 0  # NaN/Inf and explosion rollbacks so far
    stopped_by: Event | None = None


@dataclass
class Run:
    """A training run in progress: what it is (config, directory, data, fixed latents, device), its state
    (game, data order, step, rates), this session's record and its place among processes."""

    cfg: RunConfig
    dir: Path
    data: Dataset
    game: Game
    sampler: BatchSampler | SemiSampler | StreamSampler
    model_kwargs: dict
    fixed_z: torch.Tensor  # the latents every sample grid is drawn from
    fixed_y: torch.Tensor | None
    device: torch.device
    step: int = 0
    controllers: dict[str, Controller] = field(default_factory=dict)  # by name: "rates", "augment" (ADA)
    session: Session = field(default_factory=Session)  # what happened since this process started
    dist: Dist = field(default_factory=Dist)  # this process's place in a multi-process run

    @property
    def rates(self) -> Rates:
        return self.controllers["rates"]

    @property
    def total_steps(self) -> int:
        return self.cfg.train.steps

    @property
    def batch_size(self) -> int:
        """The global batch: all processes together."""
        return self.cfg.train.batch_size

    @property
    def local_batch(self) -> int:
        return self.cfg.train.batch_size // self.dist.world

    def record(self, *events: Event) -> None:
        """Remember events and append them to metrics.jsonl."""
        self.session.events.extend(events)
        self.log_rows([e.row() for e in events])

    def log_rows(self, rows: list[dict]) -> None:
        """Append rows to metrics.jsonl (rank 0 only: every process computes the same rows)."""
        if self.dist.main:
            append_jsonl(self.dir / "metrics.jsonl", rows)

    def logged_rows(self) -> list[dict]:
        """metrics.jsonl as rank 0 reads it, on every process."""
        return from_main(read_jsonl(self.dir / "metrics.jsonl") if self.dist.main else None, self.dist)

    def latest_checkpoint(self) -> dict:
        """checkpoint.pt as rank 0 wrote it, on every process (no storage shared between nodes needed)."""
        return from_main(load_checkpoint(self.dir) if self.dist.main else None, self.dist)

    def payload(self) -> dict:
        """The checkpoint contents (see gankit.checkpoint)."""
        return {"config": to_dict(self.cfg), "model": self.model_kwargs, "data": self.data.info(),
                "step": self.step, "sampler": self.sampler.state_dict(), "processes": self.dist.world,
                "fixed": {"z": self.fixed_z.cpu(), "y": None if self.fixed_y is None else self.fixed_y.cpu()},
                "controllers": {name: c.state_dict() for name, c in self.controllers.items()},
                **game_state(self.game)}


def _fixed_latents(cfg: RunConfig, z_dim: int, data: Dataset,
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    gen = torch.Generator().manual_seed(cfg.train.seed + 2)
    n = cfg.train.grid_size
    z = torch.randn(n, z_dim, generator=gen)
    if data.source is not None:  # image to image: the same sources, drawn once from the data
        n = min(n, len(data))
        return z[:n].to(device), normalize(data.source[torch.randperm(len(data), generator=gen)[:n]]).to(device)
    # conditional grids cycle through the classes so each row of a 10-wide grid shows them in order; a model
    # of clusters draws them in their shares
    y = draw_labels(n, data.num_classes, data.label_prior, cfg.train.seed + 2) if cfg.model.conditional else None
    return z.to(device), None if y is None else y.to(device)


def _build(cfg: RunConfig, run_dir: Path, data: Dataset, dist: Dist) -> Run:
    device = torch.device(dist.device) if dist.enabled else resolve_device(cfg.train.device)
    data = data.to(device)
    game, kwargs = build_game(cfg, data, device)
    if dist.enabled:
        distribute(game, dist, cfg.train.sync_bn)
    sampler = _sampler(cfg, data, MODELS.get(kwargs["name"]).semi_supervised, dist)
    z, y = _fixed_latents(cfg, game.z_dim, data, device)
    return Run(cfg, run_dir, data, game, sampler, kwargs, z, y, device, dist=dist,
               controllers=_controllers(cfg, game))


def _sampler(cfg: RunConfig, data: Dataset, semi: bool, dist: Dist) -> BatchSampler | SemiSampler | StreamSampler:
    """Where batches come from: a fixed set by index, fresh samples drawn on demand (data.stream), or half
    labelled batches for a semi-supervised model."""
    where = {"seed": cfg.train.seed, "rank": dist.rank, "world": dist.world}
    if cfg.data.flip and (data.stream is not None or data.kind == "points"):
        raise GankitError(f"data.flip mirrors images of a fixed set; {data.name} is "
                          + ("a stream of fresh samples" if data.stream is not None else "2-D points"))
    if data.stream is not None:
        return StreamSampler(data, cfg.train.batch_size, **where)
    where["flip"] = cfg.data.flip
    if semi:
        return SemiSampler(data, cfg.train.batch_size, **where)
    # a conditional PacGAN D packs samples of one class: the sampler groups them
    return BatchSampler(data, cfg.train.batch_size, group=cfg.model.pack if cfg.model.conditional else 1, **where)


def _controllers(cfg: RunConfig, game: Game) -> dict:
    t = cfg.train
    out = {"rates": Rates({"G": game.opt_G, "D": game.opt_D}, {"G": t.lr_g, "D": t.lr_d},
                          lr_schedule(t.lr_decay, t.lr_decay_start))}
    if game.rules.augment is not None:
        out["augment"] = AugmentStrength(game.rules.augment, cfg.augment, t.batch_size)
    return out


def start_run(cfg: RunConfig, dist: Dist | None = None) -> Run:
    """Load the data (failing before anything is written), then create a new numbered run directory whole:
    rank 0 assembles config.json and the step-0 checkpoint in a hidden staging folder and renames it, so a
    kill or a full disk at any moment leaves either a complete run directory or none (with several
    processes the others learn its name)."""
    dist = dist or Dist()
    if dist.main:
        check_output_folder(Path(cfg.out), cfg.name)  # before the data is read: a clash is cheap to say
    data = training_data(cfg)
    note = _resolve_augment(cfg, data)
    tag = f"{data.name}-{cfg.model.name}".replace("/", "_").replace(":", "_")
    staging = staging_dir(Path(cfg.out)) if dist.main else None
    try:
        run = _build(cfg, staging, data, dist)
        if dist.main:
            atomic_write_json(staging / "config.json", to_dict(cfg))
            _write_data_record(staging, data)
            save_checkpoint(staging / CHECKPOINT_NAME, run.payload())
            staging = publish_run_dir(staging, tag, cfg.name)
    except OSError as exc:
        if staging is not None and staging.name.startswith(STAGING_PREFIX):
            shutil.rmtree(staging, ignore_errors=True)
        raise GankitError(f"cannot create a run directory in {cfg.out}: {exc.strerror or exc}") from exc
    except BaseException:
        if staging is not None and staging.name.startswith(STAGING_PREFIX):
            shutil.rmtree(staging, ignore_errors=True)  # nothing of the user's is in it
        raise
    run.dir = Path(from_main(str(staging) if dist.main else None, dist))
    if note and dist.main:
        log.info(note)
    return run


def training_data(cfg: RunConfig) -> Dataset:
    """The data a run trains on. With few labels (data.labeled_per_class) a conditional model trains on the
    labelled images alone, a semi-supervised one on all of them; a model that uses no labels refuses it."""
    data = load_dataset(cfg.data)
    if not data.partly_labelled or MODELS.get(cfg.model.name).semi_supervised:
        return data
    if not cfg.model.conditional:
        raise GankitError("data.labeled_per_class keeps a few labels, but this model uses none: add --conditional "
                          "(it trains on the labelled images) or use --model ssgan (it also learns from the rest)")
    return data.labelled()


def _resolve_augment(cfg: RunConfig, data: Dataset) -> str | None:
    """`--augment auto` made concrete for the data (config.json records the choice); returns what to say
    about it once the run exists, where the choice depended on the data. Settings the data cannot take
    (augmenting points, evaluating clips by FID) are refused here, before anything is written."""
    if cfg.eval.every and data.kind == "clip":
        raise GankitError("eval.every scores generated images during training; a frame-prediction run is scored by "
                          "gankit eval RUN on the test clips (drop --eval-every)")
    if cfg.augment.name not in ("auto", "none") and data.kind != "image":
        raise GankitError(f"--augment {cfg.augment.name} transforms images; {data.name} is {data.kind} data "
                          "(use --augment none)")
    if cfg.augment.name != "auto":
        return None
    few = "labeled_per_class" in data.extra  # a conditional run on the few labelled images of a large set
    cfg.augment = resolve_auto(cfg.augment, cfg.data.name, len(data), data.kind, few=few)
    if cfg.data.name not in AUTO_SOURCES and not few:
        return None
    return f"augment: {cfg.augment.name} (auto, for {len(data)} images; choose with --augment)"


def _write_data_record(folder: Path, data: Dataset) -> None:
    """data.json: what was read and from where (the files found, with their md5, which --data-dir or
    $GANKIT_DATA alone do not say); skipped_images.txt: every unreadable file of an image folder."""
    info = {k: v for k, v in data.info().items() if k != "extra"}
    info.update({k: v for k, v in data.extra.items() if k in ("files", "root", "skipped", "holdout_indices",
                                                                 "labeled_per_class", "label_seed", "labeled_indices")})
    atomic_write_json(folder / "data.json", info)
    skipped = data.extra.get("skipped_files") or []
    if skipped:
        atomic_write_bytes(folder / "skipped_images.txt", "".join(f"{line}\n" for line in skipped).encode())


def resume_config(ckpt: dict, overrides: list[dict]) -> RunConfig:
    """The config a checkpoint was trained with, updated by `overrides` (e.g. a larger step budget)."""
    tree = upgrade_config(ckpt["config"])
    for override in overrides:
        tree = merge(tree, override)
    cfg = from_dict(RunConfig, tree)
    validate(cfg)
    return cfg


def resume_run(run_dir: Path, cfg: RunConfig, ckpt: dict | None = None, dist: Dist | None = None) -> Run:
    """Rebuild a run from run_dir/checkpoint.pt (or the already loaded `ckpt`); `cfg` may change the step
    budget or intervals, not the architecture, and `dist` the number of processes. Nothing in the directory
    changes before every check passed."""
    dist = dist or Dist()
    ckpt = ckpt if ckpt is not None else load_checkpoint(run_dir)
    run_dir = run_dir if run_dir.is_dir() else run_dir.parent
    saved = check_saved_networks(ckpt)  # before anything the size the file claims is built
    if dist.main:
        remove_stale_temp_files(run_dir)  # left by a process killed while writing
    data = training_data(cfg)
    _resolve_augment(cfg, data)
    check_same_architecture(saved, model_kwargs(cfg.model, data.shape, data.num_classes, data.source_shape,
                                                data.frame_channels))
    if ckpt["step"] >= cfg.train.steps:
        raise GankitError(f"the run already finished {ckpt['step']} steps; pass --steps N with N > {ckpt['step']} "
                          "to train further")
    _check_fixed(ckpt["fixed"], saved["G"])
    run = _build(cfg, run_dir, data, dist)
    restore_position(run, ckpt)
    run.fixed_z = ckpt["fixed"]["z"].to(run.device)
    run.fixed_y = None if ckpt["fixed"]["y"] is None else ckpt["fixed"]["y"].to(run.device)
    if dist.main:
        _truncate_metrics(run_dir / "metrics.jsonl", run.step)
        atomic_write_json(run_dir / "config.json", to_dict(cfg))
    return run


def _check_fixed(fixed: dict, g_kwargs: dict) -> None:
    """The sample grids' saved latents and labels must fit the generator they are fed to."""
    z, y = fixed["z"], fixed["y"]
    labels = y is not None and not y.is_floating_point()
    if z.shape[1] != g_kwargs["z_dim"] or (labels and not 0 <= int(y.min()) <= int(y.max()) <
                                           max(g_kwargs["num_classes"], 1)):
        raise GankitError(f"the checkpoint's fixed latents {list(z.shape)} or labels do not fit its generator "
                          f"(z_dim {g_kwargs['z_dim']}, {g_kwargs['num_classes']} classes); the file is damaged")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop rows logged after the checkpoint: the resumed run logs those steps again. Rollback events stay,
    as the record of what happened."""
    rows = read_jsonl(path)
    kept = [r for r in rows if r.get("step", 0) <= step or r.get("event") == "divergence_rollback"]
    torn = path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n")  # killed mid-append
    if len(kept) != len(rows) or torn:
        atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in kept).encode())


def default_callbacks(cfg: RunConfig, points: bool = False, main: bool = True) -> list:
    """The standard callbacks, in order: probes add to the step's stats before the metrics row is made,
    the monitors read the row, and checkpoints come last. Processes other than rank 0 (`main` false) run
    the ones every process must agree on, not the file writers."""
    t, h = cfg.train, cfg.health
    loss = LOSSES.get(cfg.loss.name)
    callbacks = [DiversityProbe(t.log_every)] + ([PeriodicEval(cfg.eval)] if cfg.eval.every else [])
    # a time-limited run's step count is only a bound, so its warm-up can't be a share of it
    callbacks += [MetricsLog(t.log_every, loss.probabilistic),
                 HealthCallback(h, loss.sign_meaningful, 0 if t.minutes else t.steps)]
    if h.balance and loss.sign_meaningful:
        callbacks.append(Balance(h.balance_bound))
    if t.minutes:
        callbacks.append(TimeLimit(t.minutes))
    if not main:
        return callbacks
    callbacks.append(SampleGrids(t.sample_every))
    if points:
        callbacks.append(DecisionSurface(t.sample_every))
    return callbacks + [Checkpoints(t.checkpoint_every, t.snapshot_every)]


def _mean_stats(parts: list[dict]) -> dict:
    if len(parts) == 1:
        return parts[0]
    return {k: torch.stack([p[k] for p in parts]).mean() for k in parts[0]}


def fit(run: Run, callbacks: list | None = None, until: int | None = None) -> dict:
    """Train until run.total_steps (or stop early at step `until`, checkpointed and resumable).
    Each step: n_critic D updates on fresh real batches, then one G update.

    Returns a summary dict (run directory, steps, seconds, throughput, last metrics).
    """
    if callbacks is None:
        callbacks = default_callbacks(run.cfg, run.data.kind == "points", main=run.dist.main)
    first, t0 = run.step, time.perf_counter()
    for cb in callbacks:
        cb.on_start(run)
    try:
        with graceful_signals() as flag:
            _steps(run, callbacks, run.total_steps if until is None else min(until, run.total_steps), flag)
    except StopTraining as stop:
        run.session.stopped_by = stop.event
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise GankitError(f"out of disk space at step {run.step} writing {exc.filename or 'a file'} ({exc}); the "
                          f"last checkpoint in {run.dir} is intact: free some space and resume") from exc
    except RuntimeError as exc:
        if run.dist.world == 1 or not is_comm_error(exc):
            raise
        raise GankitError(f"rank {run.dist.rank} lost contact with the other processes at step {run.step}: one of "
                          "them died, was stopped or hangs (its own error or the launcher's report says which; "
                          f"{exc}). The last checkpoint in {run.dir} is intact: resume with gankit train --resume "
                          f"{run.dir}") from exc
    for cb in callbacks:
        cb.on_end(run)
    seconds = time.perf_counter() - t0
    return {"run_dir": str(run.dir), "step": run.step, "seconds": round(seconds, 2),
            "images_per_sec": round((run.step - first) * run.batch_size / max(seconds, 1e-9), 1),
            "final_grid": str(run.dir / "final.png"), "checkpoint": str(run.dir / CHECKPOINT_NAME),
            "events": [e.name for e in run.session.events],
            "stopped_by": None if run.session.stopped_by is None else run.session.stopped_by.name,
            "metrics": run.session.last_metrics}


def _recover(run: Run, callbacks: list) -> None:
    """A step produced NaN/Inf, or its metrics row a gradient explosion (`session.explosion`): roll back to the
    last good checkpoint with lower learning rates, or stop."""
    s = run.session
    s.rollbacks += 1
    explosion, s.explosion = s.explosion, None
    why = "a gradient explosion" if explosion else "NaN/Inf"
    if s.rollbacks > run.cfg.health.max_rollbacks:
        s.diverged = True  # the state is not finite or not trusted: keep the last good checkpoint as it is
        event = Event(run.step, "divergence", evidence={"rollbacks": s.rollbacks - 1},
                      remedy=f"still diverging ({why}) after {s.rollbacks - 1} rollbacks with lower learning "
                             "rates; " + REMEDIES["divergence"])
        run.record(event)
        raise StopTraining(event)
    event = rollback(run, callbacks, s.rollbacks, explosion)
    if run.dist.main:
        _truncate_metrics(run.dir / "metrics.jsonl", run.step)
    run.record(event)


def _steps(run: Run, callbacks: list, stop: int, flag: StopFlag) -> None:
    t, b = run.cfg.train, run.local_batch
    guard = StepGuard(run.device, run.dist)
    while run.step < stop:
        # instance noise anneals linearly to zero over the run
        sigma = t.instance_noise * max(0.0, 1.0 - run.step / run.total_steps)
        n_d = t.n_critic + (t.d_pretrain_steps if run.step == 0 else 0)
        run.rates.apply(run.step, run.total_steps)
        d_parts, fake = [], None
        for _ in range(n_d):
            real, y = run.sampler.next()
            if t.reuse_fakes and n_d == 1:  # one G forward serves both updates
                fake = generate(run.game, b, y, run.device)
            d_parts.append(d_step(run.game, real, y, sigma, fake))
        keep = top_k_share(t.topk, t.topk_steps, run.step)
        g_stats = g_step(run.game, b, y, run.device, run.step, sigma, fake, keep, real)
        if run.game.sync.sync_buffers is not None:
            run.game.sync.sync_buffers()
        run.step += 1
        stats = {**_mean_stats(d_parts), **g_stats}
        bad, agreed = guard.check(stats, flag.signum)  # every process agrees on both
        if bad:
            _recover(run, callbacks)
            guard.reset()
            continue
        for controller in run.controllers.values():  # before the callbacks: a checkpoint holds their new state
            controller.on_step(run, stats)
        for cb in callbacks:
            cb.on_step(run, stats)
        if run.session.explosion is not None:  # found in this step's row; no checkpoint was written of it
            _recover(run, callbacks)
            guard.reset()
            continue
        signum = agreed if run.dist.world > 1 else flag.signum  # alone, act on a signal at once
        if signum:
            raise StopTraining(Event(run.step, "interrupted", signal=signal.Signals(signum).name))
