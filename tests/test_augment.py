"""Augmentation in front of D: the operations, the policies, the ADA controller and --augment auto."""
import json

import pytest
import torch
from conftest import one_error_line, run_cli, tiny_config, TINY_ARGS

from gankit.augment import AUGMENTS, AugmentConfig, build_augment, resolve_auto
from gankit.augment import ada, diffaugment
from gankit.checkpoint import load_checkpoint
from gankit.core.errors import GankitError
from gankit.training import fit, resume_run, start_run


def _stream(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return lambda shape: torch.rand(shape, generator=gen)


def _const(value):
    return lambda shape: torch.full(shape, value)


def _images(n=6, c=3, size=16, seed=0):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("name", sorted(AUGMENTS.names()))
def test_every_operation_keeps_the_shape_passes_gradients_and_is_off_at_p0(name):
    op, x = AUGMENTS.get(name), _images()
    torch.testing.assert_close(op(x, _stream(), 0.0), x, atol=1e-5, rtol=0)
    leaf = x.clone().requires_grad_(True)
    out = op(leaf, _stream(), 1.0)
    assert out.shape == x.shape and not torch.allclose(out, x, atol=1e-3)  # p = 1 changes the images
    out.square().sum().backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0  # G learns through it
    torch.testing.assert_close(op(x, _stream(3), 1.0), op(x, _stream(3), 1.0))  # the stream decides all


def test_p_is_the_share_of_samples_an_operation_touches():
    x = _images(n=4000, c=1, size=8)
    changed = (diffaugment.cutout(x, _stream(), 0.3) != x).flatten(1).any(1).float().mean()
    assert 0.27 < changed < 0.33


def test_translation_moves_whole_pixels_and_fills_with_grey():
    x = _images(n=1, c=1, size=8)
    out = diffaugment.translation(x, _const(0.0), 1.0)  # the largest shift up and left: 1 pixel of 8
    torch.testing.assert_close(out[..., :-1, :-1], x[..., 1:, 1:])
    assert out[..., -1, :].abs().max() == 0 and out[..., :, -1].abs().max() == 0


def test_cutout_greys_a_square_of_half_the_size():
    x = torch.ones(1, 1, 16, 16)
    out = diffaugment.cutout(x, _const(0.5), 1.0)
    assert int((out == 0).sum()) == 64  # 8 x 8, inside the image at the centre


def test_ada_geometry_lands_on_pixels():
    x = _images(n=2, c=3, size=8)
    # u = 0.5 everywhere: no flip, two quarter turns, no shift, scales 2^0: a 180-degree rotation
    torch.testing.assert_close(ada.geometric(x, _const(0.5), 1.0), x.flip(2).flip(3), atol=1e-5, rtol=0)
    flat = torch.full((3, 1, 8, 8), 0.25)
    torch.testing.assert_close(ada.geometric(flat, _stream(), 1.0), flat)  # reflection: no borders appear


def test_policies_and_bad_settings():
    assert build_augment(AugmentConfig(name="none")) is None
    aug = build_augment(AugmentConfig(name="diffaugment"))
    assert aug.names == ["color", "translation", "cutout"] and aug.p == 1.0
    assert build_augment(AugmentConfig(name="ada")).p == 0.0  # the controller raises it
    assert build_augment(AugmentConfig(name="ada", p=0.3, adaptive=False)).p == 0.3
    for cfg, message in ((AugmentConfig(name="strong"), "--augment must be one of auto, none, diffaugment, ada"),
                         (AugmentConfig(policy="colour"), "Did you mean 'color'"),
                         (AugmentConfig(p=1.5), r"augment.p must be in \[0, 1\]"),
                         (AugmentConfig(p=float("nan")), r"augment.p must be in \[0, 1\]")):
        with pytest.raises(GankitError, match=message):
            cfg.validate()


def test_auto_augments_small_folders_and_faces_only():
    auto = AugmentConfig()
    assert resolve_auto(auto, "folder", 200, "image").name == "diffaugment"
    assert resolve_auto(auto, "lfw_subset", 100, "image").name == "diffaugment"
    assert resolve_auto(auto, "folder", 500, "image").name == "ada"  # measured: DiffAugment hurt at 500 in 5 min
    assert resolve_auto(auto, "folder", 1001, "image").name == "none"
    assert resolve_auto(auto, "faces", 2000, "image").name == "none"
    assert resolve_auto(auto, "digits", 1797, "image").name == "none"  # presets of the built-in sets are tuned
    assert resolve_auto(auto, "mnist", 100, "image", few=True).name == "diffaugment"  # a few labelled images of MNIST
    assert resolve_auto(AugmentConfig(name="ada"), "folder", 500, "image").name == "ada"


def test_a_small_folder_is_augmented_and_says_so(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(20):
        Image.fromarray((torch.rand(12, 12, 3) * 255).byte().numpy()).save(folder / f"{i}.png")
    code, out, err = run_cli(capsys, "train", "--data", str(folder), "--resolution", "8", "--model", "mlp",
                             "--out", str(tmp_path / "runs"), *TINY_ARGS)
    assert code == 0, err
    assert "augment: diffaugment (auto, for 20 images; choose with --augment)" in err
    run_dir = json.loads(out)["run_dir"]
    config = json.loads(open(f"{run_dir}/config.json").read())
    assert config["augment"]["name"] == "diffaugment"  # the choice, not "auto", is recorded
    code, _, err = run_cli(capsys, "train", "--augment", "strong", "--dry-run")
    assert "--augment must be one of" in one_error_line(code, err)
    code, _, err = run_cli(capsys, "train", "--set", "augment.p=2", "--dry-run")
    assert "augment.p must be in [0, 1]" in one_error_line(code, err)
    code, _, err = run_cli(capsys, "train", "--data", "toy_ring", "--augment", "ada", "--out", str(tmp_path / "r"))
    assert "--augment ada transforms images; toy_ring is points data" in one_error_line(code, err)


def test_ada_raises_p_while_d_memorises_and_resumes_it(tmp_path):
    cfg = tiny_config(tmp_path, augment={"name": "ada", "speed_kimg": 0.5, "interval": 2},
                      train={"steps": 16, "lr_g": 1e-12, "lr_d": 3e-3, "checkpoint_every": 8})
    run = start_run(cfg)
    fit(run, until=8)
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "event" not in r]
    assert 0.6 < rows[-1]["augment_r"] <= 1 and 1 >= rows[-1]["augment_p"] > rows[0]["augment_p"] >= 0
    saved = load_checkpoint(run.dir)["controllers"]["augment"]
    assert saved["p"] == pytest.approx(rows[-1]["augment_p"])
    resumed = resume_run(run.dir, cfg)
    assert resumed.game.rules.augment.p == saved["p"]
    bad = dict(saved, p=2.0)
    with pytest.raises(GankitError, match="augment controller state is damaged"):
        resumed.controllers["augment"].load_state_dict(bad)


# ---- does it copy its photos? hold-out and the memorisation ratio ----

def test_memorisation_ratio_tells_copies_from_new_samples():
    from gankit.metrics.scores import memorisation

    gen = torch.Generator().manual_seed(0)
    train, held, fresh = (torch.randn(n, 16, generator=gen).numpy() for n in (400, 200, 200))
    copies = memorisation(train, train[:200], held)
    assert copies["memorisation_ratio"] == 0 and copies["nearest_share"] == 1
    new = memorisation(train, fresh, held)
    assert 0.85 < new["memorisation_ratio"] < 1.15 and new["nearest_share"] < 0.05


def test_holdout_keeps_the_same_images_out_of_every_run(tmp_path):
    from gankit.data import DataConfig, load_dataset

    full = load_dataset(DataConfig(name="digits"))
    train = load_dataset(DataConfig(name="digits", holdout=100))
    held = load_dataset(DataConfig(name="digits", holdout=100, split="holdout"))
    assert len(train) == len(full) - 100 and len(held) == 100
    idx = torch.tensor(train.extra["holdout_indices"])
    assert torch.equal(held.x, full.x[idx]) and idx.tolist() == held.extra["holdout_indices"]
    assert torch.equal(load_dataset(DataConfig(name="digits", holdout=100)).x, train.x)  # seeded: always the same
    for cfg, message in ((DataConfig(name="digits", holdout=len(full)), "data.holdout 1797 leaves nothing to train on"),
                         (DataConfig(name="digits", split="holdout"), "holds no images out")):
        with pytest.raises(GankitError, match=message):
            load_dataset(cfg)


def test_eval_of_a_run_with_a_holdout_reports_the_memorisation_ratio(tmp_path, capsys):
    run = start_run(tiny_config(tmp_path, data={"holdout": 200}))
    fit(run)
    data_record = json.loads((run.dir / "data.json").read_text())
    assert len(data_record["holdout_indices"]) == 200 and data_record["size"] == 1597
    code, out, err = run_cli(capsys, "eval", str(run.dir), "--n", "300", "--metrics", "fid", "--no-cache",
                             "--extractor", "identity", "--device", "cpu")
    assert code == 0, err
    result = json.loads(out)
    assert result["split"] == "holdout" and result["n_real"] == 200
    assert 0 < result["metrics"]["memorisation_ratio"] < 20 and "nearest_share" in result["metrics"]
    from PIL import Image

    from gankit.report import build_report
    with Image.open(run.dir / "nearest.png") as im:  # 8 samples above their nearest training images
        assert im.size[0] > 2 * im.size[1]
    report = build_report(run.dir)
    assert "nearest.png" in " ".join(report["figures"]) and "a twin means G copies" in (
        run.dir / "report.html").read_text()


def test_eval_against_a_folder_of_photos_kept_aside(tmp_path, capsys):
    from PIL import Image

    from gankit.data import DataConfig, load_dataset
    run = start_run(tiny_config(tmp_path, data={"holdout": 100}))
    fit(run)
    held = load_dataset(DataConfig(name="digits", holdout=100, split="holdout"))
    (tmp_path / "kept").mkdir()
    for i, image in enumerate(held.x[:60]):
        Image.fromarray(image[0].numpy()).save(tmp_path / "kept" / f"{i:03d}.png")
    args = ("eval", str(run.dir), "--n", "200", "--metrics", "fid", "--no-cache", "--extractor", "identity",
            "--device", "cpu")
    code, out, err = run_cli(capsys, *args, "--real", str(tmp_path / "kept"))
    assert code == 0, err
    result = json.loads(out)
    assert result["split"] == f"folder {tmp_path / 'kept'}" and result["n_real"] == 60
    assert 0 < result["metrics"]["memorisation_ratio"] < 20
    code, _, err = run_cli(capsys, *args, "--real", str(tmp_path / "kept"), "--split", "holdout")
    assert code != 0 and "give one" in err


def test_the_hundred_faces_of_scikit_image_are_a_dataset_at_hand():
    from gankit.data import DataConfig, load_dataset

    faces = load_dataset(DataConfig(name="faces100", resolution=16))
    assert faces.name == "lfw_subset" and faces.x.shape == (100, 1, 16, 16) and faces.x.dtype == torch.uint8
    assert load_dataset(DataConfig(name="lfw_subset")).shape == (1, 32, 32)  # read at a size G and D take
    assert 60 < faces.x.float().mean() < 200 and faces.x.float().std() > 20  # faces, not a blank
    assert resolve_auto(AugmentConfig(), "lfw_subset", 100, "image").name == "diffaugment"


def test_faces100_trains_with_fastgan_and_augmentation_from_the_command_line(tmp_path, capsys):
    code, out, err = run_cli(capsys, "train", "--data", "faces100", "--model", "fastgan", "--out", str(tmp_path),
                             "--set", "model.g_width=8", "--set", "model.d_width=8", "--steps", "3",
                             "--set", "train.batch_size=16", "--set", "train.log_every=1", "--device", "cpu")
    assert code == 0, err
    assert "augment: diffaugment (auto, for 100 images; choose with --augment)" in err
    row = json.loads(open(json.loads(out)["run_dir"] + "/metrics.jsonl").readline())
    assert row["reconstruction"] > 0 and row["d_real_sign"] <= 1


def _blobs(n: int, seed: int, size: int = 16) -> torch.Tensor:
    """Smooth random images in [-1, 1]: a few Gaussian blobs each (a stand-in for photos)."""
    gen = torch.Generator().manual_seed(seed)
    grid = torch.linspace(0, 1, size)
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    centers, widths = torch.rand(n, 3, 2, generator=gen), 0.1 + 0.2 * torch.rand(n, 3, 1, 1, generator=gen)
    blobs = torch.exp(-((xx - centers[..., 0, None, None]) ** 2 + (yy - centers[..., 1, None, None]) ** 2)
                      / widths ** 2).sum(1, keepdim=True)
    return (blobs / blobs.amax((2, 3), keepdim=True)) * 1.6 - 0.8


def test_the_leak_check_catches_cutout_squares_and_passes_clean_samples():
    from gankit.metrics.leak import leak_check

    cutout = AUGMENTS.get("cutout")
    reals = _blobs(400, seed=0)
    clean = leak_check(reals, _blobs(300, seed=1), {"cutout": cutout}, steps=300)
    gen = torch.Generator().manual_seed(2)
    leaky = leak_check(reals, cutout(_blobs(300, seed=1), lambda s: torch.rand(s, generator=gen), 1.0),
                       {"cutout": cutout}, steps=300)
    assert 0 <= clean["leak_share"] <= 0.08 and 0.7 <= leaky["leak_share"] <= 1
    assert 0.7 <= clean["leak_recall_cutout"] <= 1 and clean["leak_false_alarms"] == 0.01


def test_the_leak_check_says_why_it_did_not_run_on_too_few_training_images():
    from gankit.metrics.leak import leak_check

    # 20 labelled digits (2 per class) are all held out to set the threshold: nothing is left to learn from
    few = leak_check(_blobs(39, seed=0), _blobs(10, seed=1), {"cutout": AUGMENTS.get("cutout")}, steps=2)
    assert few == {"leak_skipped": "the leak check needs 40 training images or more; this run has 39"}
    enough = leak_check(_blobs(40, seed=0), _blobs(10, seed=1), {"cutout": AUGMENTS.get("cutout")}, steps=2)
    assert enough["leak_n"] == 10 and 0 <= enough["leak_share"] <= 1


def test_eval_runs_the_leak_check_on_an_augmented_run(tmp_path, capsys):
    run = start_run(tiny_config(tmp_path, augment={"name": "diffaugment"}))
    fit(run)
    args = ("eval", str(run.dir), "--n", "100", "--metrics", "fid", "--no-cache", "--extractor", "identity",
            "--device", "cpu")
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    assert 0 <= metrics["leak_share"] <= 1 and metrics["leak_operations"] == "color,translation,cutout"
    code, out, err = run_cli(capsys, *args, "--no-leak")
    assert code == 0 and "leak_share" not in json.loads(out)["metrics"]
