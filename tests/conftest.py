import os
from pathlib import Path

import pytest
import torch

from gankit.core.config import merge
from gankit.training import resolve


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder ($GANKIT_DATA); skips when absent unless GANKIT_REQUIRE_DATA=1."""
    root = os.environ.get("GANKIT_DATA", "")
    if root and (Path(root) / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        return Path(root)
    if os.environ.get("GANKIT_REQUIRE_DATA") == "1":
        pytest.fail("GANKIT_REQUIRE_DATA=1 but $GANKIT_DATA does not hold mnist/ (see ../shared/data/README.md)")
    pytest.skip("real data not available: set GANKIT_DATA to the shared data folder")


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


def tiny_config(tmp_path: Path, preset: str = "digits_mlp", **sections):
    """A seconds-long config: the preset with small networks and few steps, writing under tmp_path."""
    base = {"out": str(tmp_path / "runs"),
            "model": {"g_width": 16, "d_width": 32},
            "train": {"steps": 6, "batch_size": 16, "log_every": 2, "sample_every": 3,
                      "checkpoint_every": 3, "grid_size": 16, "device": "cpu"}}
    return resolve(preset, [merge(base, sections)])
