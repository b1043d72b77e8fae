"""The `gankit` command: thin argument parsing over the library. Results as JSON on stdout, progress on stderr."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from gankit.cli import bench as bench_cli
from gankit.cli import launch
from gankit.cli import latent as latent_cli
from gankit.cli import serve as serve_cli
from gankit.cli.common import add_device
from gankit.core.errors import GankitError

TRAIN_EXAMPLES = """examples:
  gankit train                                  # embedded 8x8 digits, about a minute on a laptop CPU
  gankit train --data mnist --model dcgan       # MNIST (files under --data-dir or $GANKIT_DATA)
  gankit train --data ~/pictures/dogs --resolution 64
  gankit train --preset cifar10_wgan_gp --set train.n_critic=5
  gankit train --data mnist --dry-run           # print the resolved config and exit
  gankit train --resume runs/<run> --steps 10000
  gankit train --preset mnist_dcgan --nproc 4     # 4 processes (GPUs) through torchrun; batch size is global
  torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m gankit train ...
"""
SAMPLE_EXAMPLES = """examples (demo:mnist and demo:fashion ship with gankit; pass a run directory for your own):
  gankit sample demo:mnist --n 64 --out grid.png
  gankit sample demo:mnist --n 100 --out digits/      # one PNG per sample
  gankit sample demo:mnist --n 1000 --out samples.npy --seed 1    # uint8 [N, H, W, C]
  gankit sample demo:fashion --label sneaker --n 16 --out sneakers.png   # conditional generators
  gankit sample demo:fashion --class-grid --n 8 --out classes.png
  gankit sample runs/<run> --n 64 --out grid.png
"""


def _train_parser(sub) -> None:
    from gankit.data import DATASETS
    from gankit.losses import LOSSES
    from gankit.models import MODELS
    from gankit.training import PRESETS

    p = sub.add_parser("train", help="train a GAN", epilog=TRAIN_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help=f"dataset ({', '.join(DATASETS.names())}) or a folder of images; "
                                  "default: the embedded 8x8 digits")
    p.add_argument("--model", help=f"architecture: {', '.join(MODELS.names())}")
    p.add_argument("--loss", help=f"loss: {', '.join(LOSSES.names())}")
    p.add_argument("--preset", help=f"start from a preset: {', '.join(PRESETS.names())}")
    p.add_argument("--steps", type=int, help="generator updates to train for (in total, when resuming)")
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


def _sample_parser(sub) -> None:
    p = sub.add_parser("sample", help="write samples from a trained generator", epilog=SAMPLE_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory or checkpoint file")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="grid.png, a folder/ (one PNG each) or samples.npy (uint8, "
                                                "[N, H, W, C] images; float32 [N, 2] for 2-D points)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    add_device(p)
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--label", help="conditional generators: the class to draw, by index or name (e.g. 7, sneaker)")
    p.add_argument("--class-grid", action="store_true",
                   help="conditional generators: one row per class, --n columns sharing their latents")
    p.add_argument("--psi", type=float, default=1.0,
                   help="truncation toward the mean latent, 0 to 2 (1 = off; below 1: closer to the average sample)")
    p.add_argument("--jbt", type=float, default=1.0, metavar="SHARE",
                   help="keep only the latents where G's Jacobian norm is in its lowest JBT share, e.g. 0.95 "
                        "(Jacobian-based truncation: drops samples drawn between separate modes; 1 = off)")


def _report_parser(sub) -> None:
    p = sub.add_parser("report", help="write report.html with the run's curves, samples and health events",
                       epilog="example:\n  gankit report runs/<run>   # then open runs/<run>/report.html",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory")


EVAL_EXAMPLES = """examples:
  gankit eval demo:mnist --n 2000             # the MNIST judge: FID in its features, KID, PR, DC, IS, classes
  gankit eval runs/<run> --extractor inception --metrics fid,kid --n 10000
  gankit eval runs/<run> --inception INCEPTION.pt      # the TorchScript Inception-v3 file, if not in the data dir
"""


def _eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="measure a trained generator: FID, KID, precision/recall, density/coverage",
                       epilog=EVAL_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory or checkpoint file")
    p.add_argument("--metrics", default="", help="comma-separated: fid, kid, pr, dc, is, classes "
                                                 "(default: all the extractor supports)")
    p.add_argument("--extractor", help="inception, classifier (MNIST-like data) or identity (2-D points); "
                                       "default: classifier where one ships, identity for points, else inception")
    p.add_argument("--n", type=int, default=10000, help="generated samples (default 10000)")
    p.add_argument("--n-real", type=int, help="real samples (default: as many as --n, at most the dataset)")
    p.add_argument("--split", default="train", help="real data split to compare with (default train)")
    p.add_argument("--inception", default="", help="the Inception file (else $GANKIT_INCEPTION or the data dir)")
    p.add_argument("--classifier", default="", help="a judge from `gankit classifier train` (else the bundled one)")
    p.add_argument("--data-dir", help="folder holding the datasets (else the run's, else $GANKIT_DATA)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of the generated samples' latents")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    p.add_argument("--no-cache", action="store_true", help="recompute the real-data features")
    p.add_argument("--psi", type=float, default=1.0,
                   help="truncation toward the mean latent, 0 to 2 (1 = off): precision for recall, as in BigGAN's "
                        "curves")
    p.add_argument("--jbt", type=float, default=1.0, metavar="SHARE",
                   help="keep only the latents where G's Jacobian norm is in its lowest JBT share, e.g. 0.95 "
                        "(Jacobian-based truncation: drops samples drawn between separate modes; 1 = off)")
    add_device(p)


def _classifier_parser(sub) -> None:
    p = sub.add_parser("classifier", help="the judge for MNIST-like data (gankit eval --extractor classifier)")
    csub = p.add_subparsers(dest="action", required=True)
    t = csub.add_parser("train", help="train the judge CNN and record its test accuracy",
                        epilog="example:\n  gankit classifier train --data mnist --out mnist.pt",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--data", required=True, help="mnist or fashion_mnist")
    t.add_argument("--out", required=True, help="where to write the weights (.pt)")
    t.add_argument("--data-dir", default="", help="folder holding the datasets (else $GANKIT_DATA)")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--seed", type=int, default=0)
    add_device(t)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description="Train, watch and sample GANs.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    _train_parser(sub)
    _sample_parser(sub)
    _report_parser(sub)
    _eval_parser(sub)
    _classifier_parser(sub)
    latent_cli.add_parser(sub)
    bench_cli.add_parser(sub)
    serve_cli.add_parser(sub)
    return parser


def _flag_overrides(args) -> list[dict]:
    """Command-line flags as override dicts, in the order they apply (flags, then each --set)."""
    from gankit.core.config import parse_override
    from gankit.data import looks_like_path

    data: dict = {}
    if args.data is not None:
        data.update({"name": "folder", "path": args.data} if looks_like_path(args.data) else {"name": args.data})
    for key, value in (("resolution", args.resolution), ("data_dir", args.data_dir), ("labels", args.labels)):
        if value is not None:
            data[key] = value
    if args.download:
        data["download"] = True
    model = {k: v for k, v in (("name", args.model), ("conditional", args.conditional or None)) if v is not None}
    train = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size), ("seed", args.seed),
                               ("device", args.device)) if v is not None}
    health = {k: v for k, v in (("on_event", args.on_event), ("balance", args.balance or None)) if v is not None}
    evaluation = {k: v for k, v in (("every", args.eval_every), ("metric", args.eval_metric)) if v is not None}
    tree = {"data": data, "model": model, "train": train, "health": health, "eval": evaluation,
            "loss": {"name": args.loss} if args.loss else {}}
    for key in ("out", "name"):
        if getattr(args, key) is not None:
            tree[key] = getattr(args, key)
    return [tree] + [parse_override(s) for s in args.set]


def cmd_train(args) -> int:
    from gankit.checkpoint import load_checkpoint
    from gankit.core.config import to_dict
    from gankit.core import distributed
    from gankit.core.files import check_output_folder
    from gankit.data import looks_like_path
    from gankit.training import default_preset, resolve
    from gankit.training.loop import resume_config

    overrides = _flag_overrides(args)
    ckpt = load_checkpoint(args.resume) if args.resume else None
    if ckpt is not None:
        cfg = resume_config(ckpt, overrides)
    else:
        data_name = "folder" if args.data and looks_like_path(args.data) else args.data
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
    stop = run.stopped_by or {}
    if stop.get("event") == "interrupted":
        say(f"stopped by {stop['signal']} at step {run.step}, checkpoint written; resume with: "
            f"gankit train --resume {run.dir}", file=sys.stderr)
        return 128 + signal.Signals[stop["signal"]].value  # what a shell reports for that signal
    if stop:
        why = "health event" + (" (--on-event stop)" if stop["event"] != "divergence" else "")
        say(f"stopped by {why} {stop['event']}; the last good checkpoint is in {run.dir}", file=sys.stderr)
        return 3
    return 0


def _say_data(run, log, resumed: bool) -> None:
    """Where the data was actually read from (--data-dir, $GANKIT_DATA or the cache: the config alone
    does not say), and where the list of skipped images is."""
    extra = run.data.extra
    source = extra.get("root") or ", ".join(sorted({str(Path(f).parent) for f in extra.get("files", {})}))
    log("data: %s, %d samples%s", run.data.name, len(run.data), f", read from {source}" if source else "")
    if extra.get("skipped_files") and not resumed:
        log("the %d skipped images are listed in %s", len(extra["skipped_files"]), run.dir / "skipped_images.txt")


def cmd_sample(args) -> int:
    from gankit.core.runtime import resolve_device
    from gankit.latent import load_generator, sample, write

    if args.n <= 0:
        raise GankitError(f"--n must be positive, got {args.n}")
    generator = load_generator(args.run, ema=not args.no_ema, device=resolve_device(args.device))
    if args.class_grid:
        if args.jbt != 1.0:
            raise GankitError("--class-grid shares each column's latent across classes; it cannot take --jbt")
        return _class_grid(generator, args)
    labels = None
    if args.label is not None:
        import torch

        from gankit.latent.groups import resolve_label

        labels = torch.full((args.n,), resolve_label(generator, args.label))
    samples = sample(generator, args.n, seed=args.seed, labels=labels, psi=args.psi, jbt=args.jbt)
    written = write(samples, args.out, kind=generator.data_kind, force=args.force,
                    nrow=None if labels is not None else generator.num_classes or None)
    print(json.dumps({"n": args.n, "seed": args.seed, "out": args.out, "files": len(written)}))
    return 0


def _class_grid(generator, args) -> int:
    """One row per class, one column per latent (seeds seed .. seed + n - 1)."""
    from gankit.core.images import make_grid, save_png
    from gankit.latent.render import Renderer
    from gankit.latent.sample import output_kind

    if output_kind(args.out) != "grid":
        raise GankitError("--class-grid writes one PNG: pass --out grid.png")
    if Path(args.out).exists() and not args.force:
        raise GankitError(f"{args.out} already exists; choose another --out or pass --force to overwrite")
    out = Renderer(generator).class_grid(list(range(args.seed, args.seed + args.n)), psi=args.psi)
    if out["error"]:
        raise GankitError(out["error"])
    save_png(make_grid(out["images"], nrow=args.n, scale=max(1, 32 // out["images"].shape[1])), args.out)
    print(json.dumps({"n": args.n, "seed": args.seed, "out": args.out, "rows": out["rows"]}))
    return 0


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (so redirections and test capture see progress)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _setup_logging() -> None:
    logger = logging.getLogger("gankit")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def cmd_report(args) -> int:
    from gankit.report import build_report

    print(json.dumps(build_report(args.run)))
    return 0


def cmd_eval(args) -> int:
    from gankit.latent.evaluate import EvalOptions, evaluate_run

    opts = EvalOptions(n=args.n, n_real=args.n_real or 0, metrics=args.metrics, extractor=args.extractor or "",
                       split=args.split, extractor_file=args.inception or args.classifier, data_dir=args.data_dir,
                       batch_size=args.batch_size, seed=args.seed, ema=not args.no_ema, cache=not args.no_cache,
                       psi=args.psi, jbt=args.jbt, device=args.device)
    print(json.dumps(evaluate_run(args.run, opts)))
    return 0


def cmd_classifier(args) -> int:
    from gankit.core.runtime import resolve_device
    from gankit.data import DATASETS, DataConfig, load_dataset
    from gankit.metrics.classifier import save_classifier, train_classifier

    name = DATASETS.canonical(args.data)
    train, test = (load_dataset(DataConfig(name=name, data_dir=args.data_dir, split=split))
                   for split in ("train", "test"))
    log = logging.getLogger("gankit").info
    model, acc = train_classifier(train, test, epochs=args.epochs, flip=name == "fashion_mnist",
                                  seed=args.seed, device=str(resolve_device(args.device)), log=log)
    meta = {"dataset": name, "class_names": train.class_names, "test_accuracy": acc,
            "epochs": args.epochs, "seed": args.seed}
    save_classifier(model.cpu(), args.out, meta)
    print(json.dumps({"out": args.out, **meta}))
    return 0


def main(argv: list[str] | None = None) -> int:
    _setup_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.version:
        from gankit import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    code = _dispatch(args)
    distributed = sys.modules.get("gankit.core.distributed")  # imported (with torch) only by commands that use it
    if distributed is not None and distributed.joined():  # one of torchrun's processes: see end_process
        distributed.end_process(code)
    return code


def _dispatch(args) -> int:
    try:
        return {"train": cmd_train, "sample": cmd_sample, "report": cmd_report,
                "eval": cmd_eval, "classifier": cmd_classifier, "latent": latent_cli.run,
                "bench": bench_cli.run, "serve": serve_cli.run}[args.command](args)
    except GankitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `gankit ... | head`: the reader left; don't fail again at exit's flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
