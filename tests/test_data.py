"""Dataset readers on small synthetic files in the official formats, plus the real MNIST when present."""
import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.core.errors import GankitError
from gankit.data import DATASETS, BatchSampler, DataConfig, Dataset, idx, load_dataset


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _write_mnist(folder, n=12):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n) % 10
    for img_name, lbl_name in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                               ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        (folder / f"{img_name}.gz").write_bytes(gzip.compress(_idx_bytes(images)))
        (folder / f"{lbl_name}.gz").write_bytes(gzip.compress(_idx_bytes(labels)))
    return images, labels


def test_idx_reader_round_trip(tmp_path):
    images, labels = _write_mnist(tmp_path / "mnist")
    data = load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))
    assert data.x.shape == (12, 1, 28, 28) and data.x.dtype == torch.uint8
    assert torch.equal(data.x[:, 0], torch.from_numpy(images))
    assert data.labels.tolist() == labels.tolist() and data.num_classes == 10


def test_idx_reader_resizes(tmp_path):
    _write_mnist(tmp_path / "mnist")
    data = load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path), resolution=32, channels=3))
    assert data.x.shape == (12, 3, 32, 32) and data.x.dtype == torch.uint8


@pytest.mark.parametrize("raw,message", [
    (b"\x00\x00\x0c\x03" + b"\x00" * 20, "bad magic"),
    (_idx_bytes(np.zeros((4, 28, 28)))[:-5], "truncated or corrupt"),
    (b"\x00\x00\x08\x03\x00", "header incomplete"),
])
def test_idx_reader_rejects_bad_files(raw, message):
    with pytest.raises(GankitError, match=message):
        idx.parse_idx(raw, "file")


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    _write_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(GankitError, match="could not be decompressed"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))


def test_missing_data_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(GankitError, match="not found under .*--download"):
        load_dataset(DataConfig(name="fashion_mnist", data_dir=str(tmp_path)))


def test_download_verifies_checksums(tmp_path, monkeypatch):
    """The download path, served from a local file:// mirror (tests never touch the network)."""
    mirror = tmp_path / "mirror"
    _write_mnist(mirror)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    spec = idx.IdxSpec(("mnist",), (mirror.as_uri() + "/",), md5, tuple(str(i) for i in range(10)))
    monkeypatch.setattr(idx, "MNIST", spec)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    data = idx.read_mnist(DataConfig(name="mnist", data_dir=str(tmp_path / "empty"), download=True))
    assert len(data) == 12
    assert (tmp_path / "cache" / "gankit" / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    bad = idx.IdxSpec(("mnist2",), (mirror.as_uri() + "/",), {k: "0" * 32 for k in md5}, spec.class_names)
    monkeypatch.setattr(idx, "MNIST", bad)
    with pytest.raises(GankitError, match="checksum mismatch"):
        idx.read_mnist(DataConfig(name="mnist", data_dir=str(tmp_path / "empty"), download=True))


def test_real_mnist(shared_data):
    data = load_dataset(DataConfig(name="mnist", data_dir=str(shared_data)))
    assert data.x.shape == (60000, 1, 28, 28)
    assert torch.bincount(data.labels).min() > 5000
    assert 30 < data.x.float().mean() < 36  # MNIST's mean intensity is 33.3
    test = load_dataset(DataConfig(name="fashion", data_dir=str(shared_data), split="test"))
    assert test.x.shape == (10000, 1, 28, 28) and test.class_names[7] == "sneaker"


def _cifar_archive(path, n=4):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                     b"labels": list(rng.integers(0, 10, n)), b"batch_label": name.encode()}
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def test_cifar_reader_on_a_synthetic_archive(tmp_path):
    _cifar_archive(tmp_path / "cifar10" / "cifar-10-python.tar.gz")
    data = load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    assert data.x.shape == (20, 3, 32, 32) and data.labels.shape == (20,)
    assert load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path), split="test")).x.shape[0] == 4


def test_cifar_layout_is_channel_planes():
    from gankit.data.cifar import load_batch

    row = np.zeros((1, 3072), dtype=np.uint8)
    row[0, 1024 + 5] = 200  # green plane, row 0, column 5
    x, _ = load_batch(pickle.dumps({b"data": row, b"labels": [3]}), "t")
    assert x[0, 1, 0, 5] == 200 and x.sum() == 200


def test_cifar_refuses_code_in_pickles(tmp_path):
    from gankit.data.cifar import load_batch

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    with pytest.raises(GankitError, match="not a valid CIFAR-10 batch"):
        load_batch(pickle.dumps({b"data": Evil(), b"labels": []}), "evil")
    assert not (tmp_path / "pwned").exists()


def test_truncated_cifar_archive(tmp_path):
    _cifar_archive(tmp_path / "cifar-10-python.tar.gz")
    raw = (tmp_path / "cifar-10-python.tar.gz").read_bytes()
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(GankitError, match="not a complete CIFAR-10 archive"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))


def _save(path, mode, size, color):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_image_folder_mixed_sizes_modes_and_junk(tmp_path, caplog):
    _save(tmp_path / "a.png", "RGB", (50, 30), (255, 0, 0))
    _save(tmp_path / "b.jpg", "L", (20, 40), 128)
    _save(tmp_path / "c.png", "RGBA", (64, 64), (0, 255, 0, 128))
    _save(tmp_path / "d.png", "P", (10, 10), 3)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (tmp_path / "notes.txt").write_text("not an image")
    data = load_dataset(DataConfig(name="folder", path=str(tmp_path), resolution=16))
    assert data.x.shape == (4, 3, 16, 16) and data.labels is None
    assert data.extra["skipped"] == 1 and "skipped 1 unreadable" in caplog.text
    assert data.x[0, 0].float().mean() > 250 and data.x[0, 1].float().mean() < 5  # a.png stays red


def test_image_folder_skips_decompression_bombs(tmp_path, caplog):
    _save(tmp_path / "ok.png", "RGB", (3000, 2000), (0, 0, 255))  # large but honest: read and resized
    Image.new("1", (12000, 12000)).save(tmp_path / "bomb.png")  # 144 Mpixel in a few kB
    data = load_dataset(DataConfig(name="folder", path=str(tmp_path), resolution=16))
    assert data.x.shape == (1, 3, 16, 16) and data.extra["skipped"] == 1
    assert "DecompressionBomb" in caplog.text


def test_image_folder_grayscale_and_center_crop(tmp_path):
    img = Image.new("L", (60, 20), 0)
    img.paste(255, (20, 0, 40, 20))  # white only in the central third
    img.save(tmp_path / "wide.png")
    data = load_dataset(DataConfig(name="folder", path=str(tmp_path), resolution=20))
    assert data.x.shape == (1, 1, 20, 20)
    assert data.x.float().mean() > 240  # the crop kept the centre


def test_image_folder_classes_from_subfolders(tmp_path):
    for i in range(3):
        _save(tmp_path / "cats" / f"{i}.png", "RGB", (8, 8), (i, 0, 0))
    for i in range(2):
        _save(tmp_path / "dogs" / "nested" / f"{i}.png", "RGB", (8, 8), (0, i, 0))
    data = load_dataset(DataConfig(name="folder", path=str(tmp_path), resolution=8))
    assert data.class_names == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 0, 1, 1]


def test_image_folder_classes_from_a_labels_csv(tmp_path, caplog):
    for name in ("a.png", "b.png", "c.png", "d.png"):
        _save(tmp_path / "img" / name, "L", (8, 8), 10)
    (tmp_path / "labels.csv").write_text("id,Image,Emotion\n1,a.png,Happiness\n2,sub/b.png,neutral\n"
                                         "3,c.png,happiness \n4,zzz.png,anger\n")
    data = load_dataset(DataConfig(name="folder", path=str(tmp_path / "img"), labels=str(tmp_path / "labels.csv")))
    assert data.class_names == ["happiness", "neutral"] and data.labels.tolist() == [0, 1, 0]
    assert "1 of 4 images have no label" in caplog.text
    (tmp_path / "bad.csv").write_text("just,two\n1,2\n")
    with pytest.raises(GankitError, match="need a header with an image column"):
        load_dataset(DataConfig(name="folder", path=str(tmp_path / "img"), labels=str(tmp_path / "bad.csv")))


def test_faces_carry_their_expression_labels(shared_data):
    data = load_dataset(DataConfig(name="faces", data_dir=str(shared_data), resolution=16))
    assert data.class_names == ["anger", "disgust", "happiness", "neutral", "sadness", "surprise"]
    assert len(data) == 1992 and data.labels.bincount().tolist() == [24, 3, 838, 1040, 20, 67]


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "holds no images"),
    (lambda p: (p / "x.png").write_bytes(b"junk"), "could be read"),
])
def test_image_folder_errors(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(GankitError, match=message):
        load_dataset(DataConfig(name="folder", path=str(tmp_path)))
    with pytest.raises(GankitError, match="does not exist"):
        load_dataset(DataConfig(name="folder", path=str(tmp_path / "nope")))


@pytest.mark.parametrize("name,modes,std", [("toy_ring", 8, 0.01), ("toy_grid", 25, 0.05)])
def test_toy_mixtures_keep_their_modes(name, modes, std):
    data = load_dataset(DataConfig(name=name, num_points=5000))
    centers = torch.tensor(data.extra["centers"])
    assert data.kind == "points" and data.x.shape == (5000, 2) and len(centers) == modes
    nearest = torch.cdist(data.x, centers).min(1).values
    assert nearest.max() < 6 * std and 0.5 * std < nearest.mean() < 2 * std  # mean of a 2-D Rayleigh ≈ 1.25σ
    assert torch.bincount(data.labels, minlength=modes).min() > 5000 / modes * 0.7


def test_embedded_digits():
    data = load_dataset(DataConfig(name="digits"))
    assert data.x.shape == (1797, 1, 8, 8) and data.x.max() == 255 and data.num_classes == 10


def test_unknown_dataset_suggests():
    with pytest.raises(GankitError, match="Did you mean 'mnist'"):
        load_dataset(DataConfig(name="minst"))
    assert "fashion" in DATASETS


def test_sampler_resumes_the_same_order():
    data = Dataset("t", torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1))
    a = BatchSampler(data, 3, seed=0)
    for _ in range(4):
        a.next()
    state = a.state_dict()
    expected = [a.next()[0] for _ in range(5)]
    b = BatchSampler(data, 3, seed=123)
    b.load_state_dict(state)
    for want in expected:
        torch.testing.assert_close(b.next()[0], want)


def test_sampler_epochs_cover_every_sample_once():
    data = Dataset("t", torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1))
    s = BatchSampler(data, 4, seed=0)
    seen = torch.cat([s.next()[0].flatten() for _ in range(3)])
    assert sorted(((seen + 1) * 127.5).round().int().tolist()) == list(range(12))
    with pytest.raises(GankitError, match=r"larger than the dataset \(12 samples\); a GAN needs a hundred images or "
                                          r"more .* to try anyway, pass --batch-size N with N ≤ 12"):
        BatchSampler(data, 13, seed=0)


def _asymmetric_pairs(n: int = 40) -> Dataset:
    """Pairs whose source is the image itself, each image unlike its mirror (a ramp plus its index)."""
    ramp = torch.arange(4, dtype=torch.uint8).view(1, 1, 1, 4) * 50
    x = ramp + torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1)
    return Dataset("t", x.expand(n, 1, 2, 4).clone(), source=x.expand(n, 1, 2, 4).clone())


def _mirrored(batch: torch.Tensor) -> torch.Tensor:
    """Which samples of a batch of _asymmetric_pairs come mirrored: their ramp falls left to right."""
    return batch[:, 0, 0, 0] > batch[:, 0, 0, -1]


def test_flip_mirrors_about_half_of_the_samples_and_keeps_each_pair_together():
    s = BatchSampler(_asymmetric_pairs(), 8, seed=0, flip=True)
    batches = [s.next() for _ in range(60)]
    assert all(torch.equal(x, source) for x, source in batches)  # a pair is mirrored whole or not at all
    share = torch.cat([_mirrored(x) for x, _ in batches]).float().mean().item()
    assert 0.4 < share < 0.6
    plain = BatchSampler(_asymmetric_pairs(), 8, seed=0)
    assert not any(_mirrored(plain.next()[0]).any() for _ in range(60))


def test_flip_resumes_exactly_and_shards_one_global_draw():
    data = _asymmetric_pairs()
    a = BatchSampler(data, 8, seed=1, flip=True)
    for _ in range(7):
        a.next()
    state, expected = a.state_dict(), [a.next()[0] for _ in range(9)]
    b = BatchSampler(data, 8, seed=5, flip=True)
    b.load_state_dict(state)
    assert all(torch.equal(b.next()[0], want) for want in expected)
    alone = BatchSampler(data, 8, seed=3, flip=True)
    shards = [BatchSampler(data, 8, seed=3, rank=r, world=2, flip=True) for r in range(2)]
    for _ in range(9):
        assert torch.equal(torch.cat([s.next()[0] for s in shards]), alone.next()[0])
