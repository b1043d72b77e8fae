"""`gankit train`: train a GAN, resume one, or hand several processes to the launcher."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from gankit.cli import launch
from gankit.cli.common import add_device
from gankit.core.errors import GankitError


TRAIN_EXAMPLES = """examples:
  gankit train                                  # embedded 8x8 digits, about a minute on a laptop CPU
  gankit train --data mnist --model dcgan       # MNIST (files under --data-dir or $GANKIT_DATA)
  gankit train --data ~/pictures/dogs --resolution 64
  gankit train --data ~/pictures/faces --set data.holdout=200 --minutes 20   # 32x32, augmented by its size
  gankit train --preset cifar10_wgan_gp --set train.n_critic=5
  gankit train --data mnist --dry-run           # print the resolved config and exit
  gankit train --resume runs/<run> --steps 10000
  gankit train --preset mnist_dcgan --nproc 4     # 4 processes (GPUs) through torchrun; batch size is global
  torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m gankit train ...
"""
def add_parser(sub) -> None:
    from gankit.data import DATASETS
    from gankit.losses import LOSSES
    from gankit.models import MODELS
    from gankit.training import PRESETS

    p = sub.add_parser("train", help="train a GAN", epilog=TRAIN_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help=f"dataset ({', '.join(n for n in DATASETS.names() if n != 'pairs')}) or a "
                                  "folder of images; image pairs: edges:DATASET (drawing -> image), "
                                  "lowres:DATASET:4 (upscaling) or pairs:FOLDER (A/ and B/); "
                                  "default: the embedded 8x8 digits")
    p.add_argument("--model", help=f"architecture: {', '.join(MODELS.names())}")
    p.add_argument("--loss", help=f"loss: {', '.join(LOSSES.names())}")
    p.add_argument("--preset", help=f"start from a preset: {', '.join(PRESETS.names())}")
    p.add_argument("--steps", type=int, help="generator updates to train for (in total, when resuming)")
    p.add_argument("--minutes", type=float, help="stop after this many minutes of training (checkpointed; "
                                                 "--resume continues), whichever of --steps and --minutes comes first")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--resolution", type=int, help="resize images to this square size")
    p.add_argument("--conditional", action="store_true", help="condition G and D on the dataset's labels")
    p.add_argument("--labels", metavar="CSV", help="image folders: a CSV naming each image's class (columns "
                                                   "image and label)")
    p.add_argument("--data-dir", help="folder holding the datasets (else $GANKIT_DATA, else the cache)")
    p.add_argument("--download", action="store_true", help="download MNIST/Fashion-MNIST if missing")
    p.add_argument("--out", help="parent folder of the run directories (default: runs)")
    p.add_argument("--name", help="name the run directory OUT/NAME (default: the next NNNNN-dataset-model)")
    p.add_argument("--seed", type=int)
    add_device(p, default=None)
    p.add_argument("--augment", metavar="{auto,none,diffaugment,ada}",
                   help="augmentation of everything D sees, for small datasets: auto (default; for a folder or "
                        "the faces: DiffAugment up to 250 images, ADA up to 1,000, else none), none, diffaugment, ada "
                        "(adaptive probability); see augment.* for its settings")
    p.add_argument("--on-event", choices=["warn", "stop"],
                   help="what a health event (overpowering D, mode collapse, divergence...) does (default warn)")
    p.add_argument("--balance", action="store_true",
                   help="adapt D's learning rate while D's accuracy stays above health.balance_bound")
    p.add_argument("--eval-every", type=int, metavar="K",
                   help="every K steps score a small sample (eval.n) with the fast extractor, log it and keep "
                        "best.pt by eval.metric")
    p.add_argument("--eval-metric", help="what best.pt is chosen by: fid (default), kid, is, dc, classes")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set train.n_critic=5 (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run exactly where it stopped (also with "
                                                        "another number of processes)")
    p.add_argument("--nproc", type=int, metavar="N", help="train with N processes on this machine (one per GPU) "
                                                          "through torchrun; --batch-size stays the global batch")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config as JSON and exit")


def _flag_overrides(args) -> list[dict]:
    """Command-line flags as override dicts, in the order they apply (flags, then each --set)."""
    from gankit.core.config import parse_override
    from gankit.data import data_argument

    data: dict = {}
    if args.data is not None:
        data.update(data_argument(args.data))
    for key, value in (("resolution", args.resolution), ("data_dir", args.data_dir), ("labels", args.labels)):
        if value is not None:
            data[key] = value
    if args.download:
        data["download"] = True
    model = {k: v for k, v in (("name", args.model), ("conditional", args.conditional or None)) if v is not None}
    train = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size), ("seed", args.seed),
                               ("device", args.device), ("minutes", args.minutes)) if v is not None}
    health = {k: v for k, v in (("on_event", args.on_event), ("balance", args.balance or None)) if v is not None}
    evaluation = {k: v for k, v in (("every", args.eval_every), ("metric", args.eval_metric)) if v is not None}
    tree = {"data": data, "model": model, "train": train, "health": health, "eval": evaluation,
            "loss": {"name": args.loss} if args.loss else {}, "augment": {"name": args.augment} if args.augment else {}}
    for key in ("out", "name"):
        if getattr(args, key) is not None:
            tree[key] = getattr(args, key)
    return [tree] + [parse_override(s) for s in args.set]


def run(args) -> int:
    from gankit.checkpoint import load_checkpoint
    from gankit.core.config import to_dict
    from gankit.core import distributed
    from gankit.core.files import check_output_folder
    from gankit.data import data_argument
    from gankit.training import default_preset, resolve
    from gankit.training.loop import resume_config

    overrides = _flag_overrides(args)
    ckpt = load_checkpoint(args.resume) if args.resume else None
    if ckpt is not None:
        cfg = resume_config(ckpt, overrides)
    else:
        data_name = data_argument(args.data)["name"] if args.data else None
        cfg = resolve(args.preset or default_preset(data_name, args.model), overrides)
        check_output_folder(Path(cfg.out), cfg.name)
    if args.dry_run:
        print(json.dumps(to_dict(cfg), indent=2))
        return 0
    if args.nproc:
        if cfg.train.batch_size % args.nproc:
            raise GankitError(f"train.batch_size {cfg.train.batch_size} is the global batch: it must be a multiple "
                              f"of --nproc {args.nproc}")
        distributed.process_device(cfg.train.device, args.nproc - 1, args.nproc)  # fail here, not N times
        return launch.launch(args.argv, args.nproc)
    dist = distributed.init(cfg.train.device, cfg.train.dist_timeout) if distributed.launched() else None
    clean = False  # after an exception or Ctrl-C (130), which stop the processes at different points
    try:
        code = _train(args, cfg, ckpt, dist)
        clean = code != 130
        return code
    finally:
        if dist is not None:
            distributed.shutdown(dist, clean)


def _train(args, cfg, ckpt, dist) -> int:
    from gankit.core.runtime import busy_cpu_note
    from gankit.training import fit, resume_run, start_run

    if dist is not None and not dist.main:  # rank 0 speaks for the job
        logging.getLogger("gankit").setLevel(logging.ERROR)
    run = resume_run(Path(args.resume), cfg, ckpt, dist) if ckpt is not None else start_run(cfg, dist)
    on_cpu = run.device.type == "cpu"
    note = busy_cpu_note() if on_cpu and dist is None else None  # once the run has started: not on refusals
    if note:
        logging.getLogger("gankit").warning(note)
    ckpt = None  # its tensors now live in the run; don't hold a second copy while training
    log = logging.getLogger("gankit").info
    log("run directory: %s (%s step %d of %d%s)", run.dir, "resuming at" if args.resume else "starting at",
        run.step, cfg.train.steps, f", {run.dist.world} processes" if run.dist.enabled else "")
    _say_data(run, log, resumed=bool(args.resume))
    try:
        summary = fit(run)
    except KeyboardInterrupt:
        print(f"interrupted at step {run.step}; continue from the last checkpoint with: "
              f"gankit train --resume {run.dir}", file=sys.stderr)
        return 130
    # every process ends with the same exit code; rank 0 alone reports
    say = print if run.dist.main else (lambda *a, **k: None)
    say(json.dumps(summary))
    stop = run.session.stopped_by
    if stop is not None and stop.name == "interrupted":
        say(f"stopped by {stop.signal} at step {run.step}, checkpoint written; resume with: "
            f"gankit train --resume {run.dir}", file=sys.stderr)
        return 128 + signal.Signals[stop.signal].value  # what a shell reports for that signal
    if stop is not None and stop.name == "time_limit":
        say(f"stopped at the time limit (--minutes) at step {run.step}, checkpoint written; train further with: "
            f"gankit train --resume {run.dir}", file=sys.stderr)
        return 0
    if stop is not None:
        why = "health event" + (" (--on-event stop)" if stop.name != "divergence" else "")
        say(f"stopped by {why} {stop.name}; the last good checkpoint is in {run.dir}", file=sys.stderr)
        return 3
    return 0


def _say_data(run, log, resumed: bool) -> None:
    """Where the data was actually read from (--data-dir, $GANKIT_DATA or the cache: the config alone
    does not say), and where the list of skipped images is."""
    extra = run.data.extra
    source = extra.get("root") or ", ".join(sorted({str(Path(f).parent) for f in extra.get("files", {})}))
    size = "" if run.data.kind != "image" else " at %d×%d" % run.data.shape[1:]
    log("data: %s, %d samples%s%s", run.data.name, len(run.data), size, f", read from {source}" if source else "")
    if run.cfg.preset == "folder_dcgan" and run.cfg.data.resolution == 32 and not resumed:
        log("a folder trains at 32×32 by default, readable in minutes on a CPU; more detail: "
            "--set data.resolution=64 (about 4× the compute per image)")
    if extra.get("skipped_files") and not resumed:
        log("the %d skipped images are listed in %s", len(extra["skipped_files"]), run.dir / "skipped_images.txt")
