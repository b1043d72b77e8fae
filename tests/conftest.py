import os
from pathlib import Path

import pytest
import torch

from gankit.core.config import merge
from gankit.training import resolve


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder ($GANKIT_DATA); skips when absent unless GANKIT_REQUIRE_DATA=1."""
    return require_shared_data()


def require_shared_data() -> Path:
    """$GANKIT_DATA when it holds MNIST; else a skip, or a failure under GANKIT_REQUIRE_DATA=1 (as in CI)."""
    root = os.environ.get("GANKIT_DATA", "")
    if root and (Path(root) / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        return Path(root)
    if os.environ.get("GANKIT_REQUIRE_DATA") == "1":
        pytest.fail("GANKIT_REQUIRE_DATA=1 but $GANKIT_DATA does not hold mnist/ (see ../shared/data/README.md)")
    pytest.skip("real data not available: set GANKIT_DATA to the shared data folder")


@pytest.fixture(autouse=True)
def _threads(monkeypatch):
    torch.set_num_threads(2)
    # what a command prints must not depend on how busy the machine is (gankit train notes a high load)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))


def tiny_config(tmp_path: Path, preset: str = "digits_mlp", **sections):
    """A seconds-long config: the preset with small networks and few steps, writing under tmp_path."""
    base = {"out": str(tmp_path / "runs"),
            "model": {"g_width": 16, "d_width": 32},
            "train": {"steps": 6, "batch_size": 16, "log_every": 2, "sample_every": 3,
                      "checkpoint_every": 3, "grid_size": 16, "device": "cpu"}}
    return resolve(preset, [merge(base, sections)])


# a seconds-long `gankit train` on the embedded digits, for command-line tests
TINY_ARGS = ["--steps", "4", "--set", "model.g_width=16", "--set", "model.d_width=32", "--set",
             "train.batch_size=16", "--set", "train.log_every=2", "--set", "train.grid_size=16", "--device", "cpu"]


def run_cli(capsys, *argv):
    """`gankit ARGV` in this process: (exit code, stdout, stderr)."""
    from gankit.cli.main import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, err: str) -> str:
    """The single `error:` line a refused command must print (exit 2, no traceback); returns it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]
