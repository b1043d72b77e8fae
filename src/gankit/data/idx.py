"""MNIST and Fashion-MNIST from their original IDX (.gz) files, with optional checksum-verified download."""
from __future__ import annotations

import gzip
import math
import hashlib
import struct
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.core.files import atomic_write_bytes
from gankit.data.dataset import DataConfig, Dataset, cache_dir, data_roots, resize_images


@dataclass(frozen=True)
class IdxSpec:
    folders: tuple[str, ...]  # sub-folders of a data root to look in
    mirrors: tuple[str, ...]
    md5: dict  # file name -> md5 of the .gz file
    class_names: tuple[str, ...]


_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

MNIST = IdxSpec(
    folders=("mnist", "MNIST/raw", "MNIST", "."),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    md5={"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
    class_names=tuple(str(i) for i in range(10)),
)
FASHION_MNIST = IdxSpec(
    folders=("fashion-mnist", "fashion_mnist", "FashionMNIST/raw", "FashionMNIST"),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    md5={"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
    class_names=("t-shirt", "trouser", "pullover", "dress", "coat",
                 "sandal", "shirt", "sneaker", "bag", "ankle-boot"),
)


def parse_idx(raw: bytes, source: str) -> np.ndarray:
    """Decode an uncompressed IDX file of unsigned bytes into an array, checking magic and size."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise GankitError(f"{source} is not an IDX file of unsigned bytes (bad magic number); "
                          "re-download it")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise GankitError(f"{source} is truncated (header incomplete); re-download it")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + math.prod(dims)  # Python ints: no overflow for hostile headers
    if len(raw) != expected:
        raise GankitError(f"{source} has {len(raw)} bytes but its header promises {expected}; "
                          "the file is truncated or corrupt, re-download it")
    if math.prod(d for d in dims if d) > np.iinfo(np.intp).max:
        # a zero dimension matches an empty body, but numpy cannot describe the other dimensions
        raise GankitError(f"{source} has impossible dimensions {dims} in its header; the file is corrupt, "
                          "re-download it")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


MAX_IDX_BYTES = 2**31  # 40 times MNIST's training images; a header promising more is refused unread


def _read_header(stream) -> bytes:
    """The magic number and dimensions of an IDX stream (the body is left unread)."""
    head = stream.read(4)
    if len(head) == 4 and head[:3] == b"\x00\x00\x08" and 1 <= head[3] <= 4:
        head += stream.read(4 * head[3])
    return head


def read_idx_file(path: Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (.gz) or not. A compressed file is decompressed as a stream that
    stops one byte past the size its header promises, so a decompression bomb costs no more memory than
    an honest file of that header."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            raw = _read_header(stream)
            promised = _promised_size(raw)
            if promised > MAX_IDX_BYTES:
                raise GankitError(f"{path} promises {promised:,} bytes in its header (at most {MAX_IDX_BYTES:,} "
                                  "are read); the file is corrupt or not a dataset, re-download it")
            raw += stream.read(max(promised - len(raw), 0) + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise GankitError(f"{path} could not be decompressed ({exc}); the file is corrupt, "
                          "re-download it") from exc
    if promised and len(raw) > promised:
        raise GankitError(f"{path} holds more data than its header promises ({promised:,} bytes); the file is "
                          "corrupt, re-download it")
    return parse_idx(raw, str(path))


def _promised_size(head: bytes) -> int:
    """Header plus body bytes an IDX header describes (0 when the header is not one: parse_idx says why)."""
    if len(head) < 4 or head[:3] != b"\x00\x00\x08" or not 1 <= head[3] <= 4 or len(head) < 4 + 4 * head[3]:
        return 0
    dims = struct.unpack(f">{head[3]}I", head[4:4 + 4 * head[3]])
    return 4 + 4 * head[3] + math.prod(dims)


def _find(spec: IdxSpec, stem: str, data_dir: str) -> Path | None:
    for root in data_roots(data_dir):
        for folder in spec.folders:
            for name in (stem + ".gz", stem):
                if (root / folder / name).is_file():
                    return root / folder / name
    return None


def download(spec: IdxSpec, filename: str, dest_dir: Path) -> Path:
    """Fetch `filename` from the first mirror that serves it, verify its md5, write it atomically."""
    errors = []
    for mirror in spec.mirrors:
        try:
            with urllib.request.urlopen(mirror + filename, timeout=60) as resp:
                data = resp.read()
        except OSError as exc:
            errors.append(f"{mirror}: {exc}")
            continue
        digest = hashlib.md5(data).hexdigest()
        if digest != spec.md5[filename]:
            errors.append(f"{mirror}: checksum mismatch ({digest})")
            continue
        atomic_write_bytes(dest_dir / filename, data)
        return dest_dir / filename
    raise GankitError(f"could not download {filename}: " + "; ".join(errors))


def read_idx_dataset(name: str, spec: IdxSpec, cfg: DataConfig) -> Dataset:
    """Load one split of an IDX dataset as uint8 [N, 1, 28, 28] (then resized if asked) with labels."""
    if cfg.split not in _FILES:
        raise GankitError(f"{name} has splits 'train' and 'test', not {cfg.split!r}")
    arrays, files = [], {}
    for stem in _FILES[cfg.split]:
        path = _find(spec, stem, cfg.data_dir)
        if path is None and cfg.download:
            path = download(spec, stem + ".gz", cache_dir() / spec.folders[0])
        if path is None:
            where = ", ".join(str(r) for r in data_roots(cfg.data_dir))
            raise GankitError(f"{name}: {stem}.gz not found under {where} (looked in sub-folders "
                              f"{', '.join(spec.folders)}). Point --data-dir or GANKIT_DATA at the "
                              "folder holding it, or pass --download")
        arrays.append(read_idx_file(path))
        files[str(path)] = hashlib.md5(path.read_bytes()).hexdigest()  # what was read, where it was found
    images, labels = arrays
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise GankitError(f"{name}: image and label files do not match ({images.shape} vs {labels.shape})")
    if len(labels) and int(labels.max()) >= len(spec.class_names):
        raise GankitError(f"{name}: the label file holds label {int(labels.max())} but the dataset has "
                          f"{len(spec.class_names)} classes (0-{len(spec.class_names) - 1}); the file is corrupt, "
                          "re-download it")
    x = torch.from_numpy(images.copy()).unsqueeze(1)
    x = resize_images(x, cfg.resolution, cfg.channels)
    y = torch.from_numpy(labels.astype(np.int64))
    return Dataset(name, x, y, list(spec.class_names), "image", {"files": files})


def read_mnist(cfg: DataConfig) -> Dataset:
    return read_idx_dataset("mnist", MNIST, cfg)


def read_fashion_mnist(cfg: DataConfig) -> Dataset:
    return read_idx_dataset("fashion_mnist", FASHION_MNIST, cfg)


def read_stacked_mnist(cfg: DataConfig) -> Dataset:
    """Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): three MNIST digits drawn independently as the
    R, G and B channels, so 1,000 modes (label 100a + 10b + c). `cfg.num_points` images are built once
    from the chosen split with a fixed seed, so every run sees the same set."""
    base = read_idx_dataset("mnist", MNIST, DataConfig(name="mnist", data_dir=cfg.data_dir, split=cfg.split,
                                                       download=cfg.download))
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(len(base), (3, cfg.num_points), generator=gen)
    x = torch.cat([base.x[i] for i in idx], dim=1)  # [n, 3, 28, 28]
    y = base.labels[idx[0]] * 100 + base.labels[idx[1]] * 10 + base.labels[idx[2]]
    x = resize_images(x, cfg.resolution, cfg.channels)
    return Dataset("stacked_mnist", x, y, [f"{k:03d}" for k in range(1000)], "image")
