"""CIFAR-10 from the official python archive (cifar-10-python.tar.gz, or its extracted folder).

The archive holds pickles. Unpickling executes whatever the file names, so they are read with an
unpickler that resolves only the few numpy names the official files use.
"""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.data.dataset import DataConfig, Dataset, data_roots, resize_images

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _multiarray(name: str):
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    return getattr(multiarray, name)


class _SafeUnpickler(pickle.Unpickler):
    """Allows only what array data needs (ndarray/scalar reconstruction, and the bytes decoding that
    Python 3 pickles of protocol <= 2 use); any other global (os.system, ...) is refused."""

    def find_class(self, module: str, name: str):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            return _multiarray(name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if (module, name) == ("_codecs", "encode"):
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def load_batch(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode one CIFAR batch pickle into uint8 images [N, 3, 32, 32] and int64 labels [N]."""
    try:
        batch = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # any decoding failure means a corrupt or foreign file
        raise GankitError(f"{source} is not a valid CIFAR-10 batch ({exc}); re-download the archive") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise GankitError(f"{source} is not a CIFAR-10 batch (no data/labels entries)")
    try:
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise GankitError(f"{source}: data or labels are not arrays ({exc})") from exc
    if (data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.ndim != 1
            or len(data) != len(labels)):
        raise GankitError(f"{source}: expected uint8 data [N, 3072] matching the labels, got "
                          f"{data.dtype} {data.shape} with labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise GankitError(f"{source}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def _read_members(root: Path, names: list[str]) -> list[tuple[str, bytes]]:
    folder = root / FOLDER
    if folder.is_dir():
        return [(str(folder / n), (folder / n).read_bytes()) for n in names if (folder / n).is_file()]
    out = []
    try:
        with tarfile.open(root / ARCHIVE, "r:gz") as tar:
            for name in names:
                member = tar.extractfile(f"{FOLDER}/{name}")
                if member is None:
                    raise KeyError(name)
                out.append((f"{root / ARCHIVE}:{name}", member.read()))
    except (tarfile.TarError, OSError, EOFError, KeyError) as exc:
        raise GankitError(f"{root / ARCHIVE} is not a complete CIFAR-10 archive ({exc}); re-download it") from exc
    return out


def _find_root(data_dir: str) -> Path | None:
    for base in data_roots(data_dir):
        for sub in ("cifar10", "cifar-10", "CIFAR10", "."):
            root = base / sub
            if (root / ARCHIVE).is_file() or (root / FOLDER).is_dir():
                return root
    return None


def read_cifar10(cfg: DataConfig) -> Dataset:
    if cfg.split not in SPLITS:
        raise GankitError(f"cifar10 has splits 'train' and 'test', not {cfg.split!r}")
    root = _find_root(cfg.data_dir)
    if root is None:
        where = ", ".join(str(r) for r in data_roots(cfg.data_dir))
        raise GankitError(f"cifar10: neither {ARCHIVE} nor {FOLDER}/ found under {where} (or their cifar10/ "
                          "sub-folder). Download the official python archive and point --data-dir at it")
    members = _read_members(root, SPLITS[cfg.split])
    if len(members) != len(SPLITS[cfg.split]):
        raise GankitError(f"cifar10: {root / FOLDER} lacks some of {', '.join(SPLITS[cfg.split])}")
    parts = [load_batch(raw, source) for source, raw in members]
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return Dataset("cifar10", resize_images(x, cfg.resolution, cfg.channels), y, list(CLASS_NAMES), "image")
