"""Every command shown in a `--help` epilog, in the README and in the docs' code blocks runs (so examples
cannot rot): `runs/<run>` stands for small trained runs and `$R` for demo:mnist (as latent.md sets it),
`gankit train` examples run as --dry-run (or resume a tiny run), sample counts are cut down, and `serve`
builds its app without listening. Only what cannot run here is skipped, each with its reason."""
import argparse
import re
import shlex
from pathlib import Path

import pytest
import torch

from conftest import require_shared_data
from gankit.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--steps", "2", "--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "train.batch_size=16",
        "--set", "train.grid_size=16", "--set", "train.log_every=1", "--device", "cpu"]


def _epilogs(parser: argparse.ArgumentParser, where: str = "gankit"):
    if parser.epilog:
        yield where, parser.epilog
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _epilogs(sub, f"{where} {name}")


def _commands(text: str) -> list[str]:
    """gankit command lines in a block of text (continuations joined, prompts and venv paths dropped)."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip().removeprefix("$ ").removeprefix(".venv/bin/")
        if line.startswith("gankit ") or line.startswith("torchrun "):
            out.append(line)
    return out


def _doc_blocks():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", path.read_text(), re.S):
            yield path.name, block


def examples() -> list[tuple[str, str]]:
    found = [(where, cmd) for where, text in _epilogs(build_parser()) for cmd in _commands(text)]
    found += [(where, cmd) for where, block in _doc_blocks() for cmd in _commands(block)]
    return found


def _skip_reason(argv: list[str], line: str) -> str | None:
    if line.startswith("torchrun"):
        return "torchrun launches processes by hand; `--nproc` (tested) is the same launcher"
    if "cuda" in argv and not torch.cuda.is_available() and argv[0] != "train":
        return "needs a CUDA GPU"
    if argv[:2] == ["classifier", "train"]:
        return "trains the judge for minutes (its figures: benchmarks/results/judge_reference)"
    if any(a.startswith("~/") or a == "INCEPTION.pt" for a in argv) and argv[0] != "train":
        return "names a file of the reader's own"
    return None


def _adapt(argv: list[str], runs: dict, tmp: Path) -> list[str]:
    """The example as it can run here on tiny runs."""
    conditional = any(a in ("--label", "--class-grid", "--labels") for a in argv)
    paired = argv[0] == "translate" or "--pairs" in argv
    kind = {"classify": "semi", "predict": "two_digits" if "--reckon-within" in argv else "frames"}.get(argv[0])
    run = str(runs["pairs" if paired else kind or ("cond" if conditional else "plain")])
    # latent.md sets R=demo:mnist
    named = ("runs/<run>", "runs/mnist", "runs/digits", "runs/shoes", "runs/frames")
    argv = [run if a in named else "demo:mnist" if a == "$R" else a for a in argv]
    argv = [str(runs["cond"]) if a == "demo:fashion" and not runs["fashion_demo"] else a for a in argv]
    if argv[0] == "train":
        if "--resume" in argv:
            resume = Path(argv[argv.index("--resume") + 1])
            argv = [a for a in argv if a != "--nproc"]
            return ["train", "--resume", str(runs["resumable"] if resume.name != "demo" else resume), "--steps",
                    str(runs["resume_steps"]())]
        return argv + ["--dry-run"]
    if argv[0] == "eval":
        return argv + ["--n", "40"]
    if argv[0] == "bench":
        return [a for a in argv if a != "--json"] + ["--steps", "1", "--repeats", "1", "--set", "train.batch_size=16"]
    for option, most in (("--n", 16), ("--per-class", 4)):
        if argv[0] == "sample" and option in argv:
            argv[argv.index(option) + 1] = str(min(int(argv[argv.index(option) + 1]), most))
    return argv + (["--force"] if argv[0] in ("sample", "latent", "translate", "predict") else [])


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_data_module):
    tmp = tmp_path_factory.mktemp("example-runs")
    base = ["--out", str(tmp), *TINY]
    assert main(["train", "--data", "mnist", "--model", "dcgan", "--name", "plain", *base]) == 0
    assert main(["train", "--data", "fashion", "--model", "dcgan", "--conditional", "--name", "cond", *base]) == 0
    assert main(["train", "--name", "resumable", *base]) == 0
    # drawings -> shoes, two classes (fewer drawings to make)
    assert main(["train", "--preset", "shoes_edges2photo", "--set", "data.classes=sandal,bag", "--name", "pairs",
                 *base]) == 0
    assert main(["train", "--preset", "mnist_ssgan", "--name", "semi", *base]) == 0  # a D that classifies
    assert main(["train", "--preset", "moving_mnist_small_sharp", "--set", "data.clips=32",
                 "--name", "frames", *base]) == 0  # a frame predictor that moves whole digits (32×32, 5 → 5)
    assert main(["train", "--preset", "moving_mnist_small_sharp", "--set", "data.clips=32", "--set",
                 "model.g.objects=2", "--set", "model.g.segment=motion", "--set", "model.g.box=14",
                 "--name", "two_digits", *base]) == 0  # one that follows two digits in a box (--reckon-within)
    steps = iter(range(4, 1000, 2))
    from gankit.checkpoint import demo_path
    return {"plain": tmp / "plain", "cond": tmp / "cond", "resumable": tmp / "resumable", "pairs": tmp / "pairs",
            "semi": tmp / "semi", "frames": tmp / "frames", "two_digits": tmp / "two_digits",
            "resume_steps": lambda: next(steps), "fashion_demo": demo_path("demo:fashion").is_file()}


@pytest.fixture(scope="module")
def shared_data_module():
    return require_shared_data()  # the examples train on MNIST and Fashion-MNIST


def test_examples_are_found():
    where = {w.split()[0] if w.startswith("gankit") else w for w, _ in examples()}
    assert len(examples()) >= 40 and {"gankit", "README.md", "latent.md", "resume.md"} <= where


@pytest.mark.parametrize("where, line", examples(), ids=[f"{w}: {c[:60]}" for w, c in examples()])
def test_every_example_runs(where, line, runs, tmp_path, capsys, monkeypatch):
    import uvicorn
    import numpy as np
    from PIL import Image

    argv = shlex.split(line, comments=True)[1:]
    reason = _skip_reason(argv, line)
    if reason:
        if not line.startswith("torchrun"):
            build_parser().parse_args(argv)  # it must at least parse
        pytest.skip(reason)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(uvicorn.Server, "run", lambda *a, **k: None)  # serve: build the app, don't listen
    for name in ("digit.png", "my_digit.png", "drawing.png", "drawings/a.png", "drawings/b.png", "digits/a.png",
                 *(f"kept_aside/{i}.png" for i in range(12))):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((28, 28), 128, dtype=np.uint8)).save(tmp_path / name)
    np.save(tmp_path / "z.npy", np.zeros((1, 100), dtype=np.float32))
    np.save(tmp_path / "small.npy", np.zeros((2, 7, 7), dtype=np.uint8))
    np.save(tmp_path / "digits.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    clip = np.zeros((6, 32, 32), dtype=np.uint8)  # the frames run's size; a bright square moving right
    for t in range(6):
        clip[t, 10:20, 2 + 2 * t:12 + 2 * t] = 255
    np.save(tmp_path / "clips.npy", np.stack([clip, clip]))
    gifs = [Image.fromarray(f) for f in clip]
    for name in ("clip.gif", "gifs/a.gif", "gifs/b.gif"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        gifs[0].save(tmp_path / name, save_all=True, append_images=gifs[1:])
    code = main(_adapt(argv, runs, tmp_path))
    err = capsys.readouterr().err
    assert code == 0, f"{where}: {line}\n{err[-600:]}"
