"""Image to image through the one loop: paired data (edges:, lowres:, pairs:), the families that take a
source, the L1 term, augmentation of both halves alike, and `gankit translate`."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import one_error_line, run_cli, tiny_config
from gankit.augment import AugmentConfig, build_augment
from gankit.checkpoint import load_checkpoint
from gankit.core.errors import GankitError
from gankit.data import DataConfig, data_argument, load_dataset
from gankit.data.pairs import downscale, sketch_edges
from gankit.models import ModelConfig, build_generator, model_kwargs
from gankit.training import default_preset, fit, start_run
from gankit.training.steps import Game, Rules, _augment, top_k


def test_data_arguments_name_pairs_of_datasets_and_folders(tmp_path):
    assert data_argument("edges:fashion") == {"name": "edges:fashion"}
    assert data_argument("lowres:faces:4") == {"name": "lowres:faces:4"}
    assert data_argument(f"pairs:{tmp_path}") == {"name": "pairs", "path": str(tmp_path)}
    assert data_argument(f"edges:{tmp_path}") == {"name": "edges:folder", "path": str(tmp_path)}
    assert data_argument("lowres:/a/b:c:4") == {"name": "lowres:folder:4", "path": "/a/b:c"}
    assert data_argument(str(tmp_path)) == {"name": "folder", "path": str(tmp_path)}


def test_edge_pairs_are_each_images_drawing_and_stay_aligned_through_the_holdout():
    full = load_dataset(DataConfig(name="edges:digits", resolution=16))
    assert full.source_shape == (1, 16, 16) and full.labels is not None
    assert torch.equal(full.source[:5], sketch_edges(full.x[:5]))
    ink = (full.source < 128).float().mean().item()
    assert 0.03 < ink < 0.4  # dark strokes on a light ground
    held = load_dataset(DataConfig(name="edges:digits", resolution=16, holdout=100, split="holdout"))
    assert len(held) == 100 and torch.equal(held.source, sketch_edges(held.x))


def test_lowres_pairs_are_the_bicubic_downscale_and_refuse_a_factor_that_does_not_divide():
    data = load_dataset(DataConfig(name="lowres:digits:2", resolution=16))
    assert data.source_shape == (1, 8, 8) and torch.equal(data.source, downscale(data.x, 2))
    with pytest.raises(GankitError, match="3 does not divide"):
        load_dataset(DataConfig(name="lowres:digits:3", resolution=16))
    with pytest.raises(GankitError, match="needs a factor"):
        load_dataset(DataConfig(name="lowres:digits", resolution=16))


def test_classes_keeps_the_named_classes_renumbered():
    data = load_dataset(DataConfig(name="digits", classes="3,7"))
    assert data.class_names == ["3", "7"] and sorted(data.labels.unique().tolist()) == [0, 1]
    assert 300 < len(data) < 420  # about a fifth of the 1,797 digits
    with pytest.raises(GankitError, match="has no class 'eleven'"):
        load_dataset(DataConfig(name="digits", classes="eleven"))


def _pair_folder(root, n=4, size=20):
    for side in ("A", "B"):
        (root / side).mkdir(parents=True)
        for i in range(n):
            value = 40 * i + (0 if side == "A" else 20)
            Image.fromarray(np.full((size, size), value, dtype=np.uint8)).save(root / side / f"{i}.png")


def test_a_folder_of_pairs_reads_sources_and_targets_by_name(tmp_path):
    _pair_folder(tmp_path / "p")
    data = load_dataset(DataConfig(name="pairs", path=str(tmp_path / "p"), resolution=16))
    assert data.shape == (1, 16, 16) and data.source_shape == (1, 16, 16)
    assert data.source[:, 0, 0, 0].tolist() == [0, 40, 80, 120] and data.x[:, 0, 0, 0].tolist() == [20, 60, 100, 140]
    (tmp_path / "q").mkdir()
    with pytest.raises(GankitError, match="neither A/ and B/"):
        load_dataset(DataConfig(name="pairs", path=str(tmp_path / "q")))


def test_families_and_data_must_agree_on_pairs():
    with pytest.raises(GankitError, match="use --model pix2pix"):
        model_kwargs(ModelConfig(name="dcgan"), (1, 16, 16), 0, source_shape=(1, 16, 16))
    with pytest.raises(GankitError, match="train it on pairs"):
        model_kwargs(ModelConfig(name="pix2pix"), (1, 16, 16), 0)
    with pytest.raises(GankitError, match="srresnet upscales"):
        build_generator(model_kwargs(ModelConfig(name="srresnet"), (1, 16, 16), 0, source_shape=(1, 16, 16)))
    kwargs = model_kwargs(ModelConfig(name="srresnet"), (3, 32, 32), 0, source_shape=(3, 8, 8))
    assert kwargs["G"]["factor"] == 4 and kwargs["D"]["source_channels"] == 3


def test_pairs_pick_their_preset():
    assert default_preset("edges:faces", None) == "faces_edges2photo"
    assert default_preset("lowres:mnist:4", None) == "mnist_sr4"
    assert default_preset("edges:mnist", None) == "pix2pix"
    assert default_preset("lowres:digits:2", None) == "srresnet"
    assert default_preset("pairs", None) == "pix2pix"


def _game(policy):
    net = torch.nn.Linear(1, 1)
    net.z_dim = 1
    return Game(G=net, D=net, opt_G=None, opt_D=None, noise=torch.Generator().manual_seed(0),
                rules=Rules(loss=None, augment=build_augment(AugmentConfig(name=policy, p=1.0))))


@pytest.mark.parametrize("policy", ["diffaugment", "ada"])
def test_a_source_gets_the_same_transform_as_its_image(policy):
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    seen, source = _augment(_game(policy), x, x.clone())
    assert not torch.allclose(seen, x)  # something was done ...
    assert torch.allclose(seen, source, atol=1e-6)  # ... and the same to both halves
    labels = torch.arange(6)
    assert _augment(_game(policy), x, labels)[1] is labels


def test_top_k_keeps_whole_samples_of_a_patchgan():
    logits = torch.tensor([[0.0, 0.0], [5.0, -1.0], [1.0, 1.0], [-3.0, -3.0]])
    assert torch.equal(top_k(logits, 0.5), logits[[1, 2]])
    assert top_k(logits, 1.0) is logits


def _tiny_pairs(tmp_path, **sections):
    base = {"data": {"name": "lowres:digits:2", "resolution": 16},
            "model": {"name": "srresnet", "g_width": 8, "d_width": 8, "z_dim": None, "g_depth": 2, "d_depth": None}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    return tiny_config(tmp_path, "digits_mlp", **base)


def test_a_pixel_loss_model_beats_bicubic_and_the_grid_shows_sources(tmp_path):
    """srresnet starts as bicubic exactly (its last layer is zero); L1 alone (adversarial 0) improves on it."""
    cfg = _tiny_pairs(tmp_path, loss={"adversarial": 0.0, "l1": 1.0},
                      train={"steps": 60, "lr_g": 2e-3, "batch_size": 32, "log_every": 10})
    run = start_run(cfg)
    x, y = run.data.x[:256], run.data.source[:256]
    norm = lambda t: t.float() / 127.5 - 1  # noqa: E731
    bicubic = (torch.nn.functional.interpolate(norm(y), scale_factor=2, mode="bicubic").clamp(-1, 1)
               - norm(x)).abs().mean().item()
    fit(run, callbacks=[])
    run.game.G.eval()
    with torch.no_grad():
        trained = (run.game.G(torch.zeros(256, 0), norm(y)) - norm(x)).abs().mean().item()
    assert 0.3 * bicubic < trained < 0.95 * bicubic
    ckpt = load_checkpoint(run.dir)
    assert ckpt["fixed"]["y"].shape == (16, 1, 8, 8) and ckpt["fixed"]["y"].is_floating_point()
    assert ckpt["data"]["source_shape"] == [1, 8, 8]


def test_l1_is_logged_and_adversarial_weight_needs_pairs(tmp_path):
    run = start_run(_tiny_pairs(tmp_path / "a", train={"steps": 4, "log_every": 2}))
    summary = fit(run)
    assert 0 < summary["metrics"]["l1"] < 1
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert all("l1" in r for r in rows if "step" in r and "event" not in r)
    with pytest.raises(GankitError, match="loss.adversarial"):
        start_run(tiny_config(tmp_path / "b", loss={"adversarial": 0.5}))


def test_flip_trains_on_mirrored_pairs_and_refuses_points(tmp_path):
    run = start_run(_tiny_pairs(tmp_path / "a", data={"flip": True}, train={"steps": 4, "log_every": 2}))
    assert run.sampler.flip and 0 < fit(run)["metrics"]["l1"] < 1
    with pytest.raises(GankitError, match="data.flip mirrors images of a fixed set; toy_ring is 2-D points"):
        start_run(tiny_config(tmp_path / "b", "toy_ring", data={"flip": True}))


def test_feature_matching_of_pairs_joins_gs_loss_and_is_logged(tmp_path):
    run = start_run(_tiny_pairs(tmp_path, loss={"feature_matching": 40.0}, train={"steps": 4, "log_every": 2}))
    assert [name for name, _, _ in run.game.rules.g_terms] == ["l1", "feature_matching"]
    assert 0 < fit(run)["metrics"]["feature_matching"] < 5


def test_translate_writes_one_output_per_input_and_refuses_what_it_cannot(tmp_path, capsys):
    run = start_run(_tiny_pairs(tmp_path, train={"steps": 2}))
    fit(run, callbacks=[])
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        Image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).save(tmp_path / "in" / f"{name}.png")
    code, out, _ = run_cli(capsys, "translate", str(run.dir), "--input", str(tmp_path / "in"),
                           "--out", str(tmp_path / "out"))
    assert code == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert Image.open(tmp_path / "out" / "a.png").size == (16, 16)  # ×2: the run's factor
    np.save(tmp_path / "small.npy", np.zeros((3, 12, 12, 3), dtype=np.uint8))  # colour, and another size
    code, _, err = run_cli(capsys, "translate", str(run.dir), "--input", str(tmp_path / "small.npy"),
                           "--out", str(tmp_path / "big.npy"))
    assert code == 0 and np.load(tmp_path / "big.npy").shape == (3, 24, 24)
    assert "3 channels to 1" in err
    code, _, err = run_cli(capsys, "translate", str(run.dir), "--input", str(tmp_path / "in" / "a.png"),
                           "--out", str(tmp_path / "a.jpg"))
    assert "pass --out NAME.png" in one_error_line(code, err)
    code, _, err = run_cli(capsys, "translate", "demo:mnist", "--input", str(tmp_path / "in"), "--out",
                           str(tmp_path / "o"))
    assert "does not translate" in one_error_line(code, err)
    code, _, err = run_cli(capsys, "sample", str(run.dir), "--out", str(tmp_path / "s.png"))
    assert "use gankit translate" in one_error_line(code, err)


def test_drawing_styles_differ_from_the_training_edges_as_named():
    data = load_dataset(DataConfig(name="digits", resolution=16))
    clean = load_dataset(DataConfig(name="edges:digits", resolution=16)).source
    thick = load_dataset(DataConfig(name="edges:digits:thick", resolution=16)).source
    ink = lambda s: (s < 128).float().mean().item()  # noqa: E731
    assert 1.8 * ink(clean) < ink(thick) < 5 * ink(clean)  # strokes three pixels wide instead of one
    sobel = load_dataset(DataConfig(name="edges:digits:sobel", resolution=16)).source
    assert not torch.equal(sobel, clean) and 0.3 * ink(clean) < ink(sobel) < 3 * ink(clean)
    varied = load_dataset(DataConfig(name="edges:digits:varied", resolution=16)).source
    assert varied.shape == clean.shape and len(data) == len(varied) and not torch.equal(varied, clean)
    with pytest.raises(GankitError, match="no such drawing style"):
        load_dataset(DataConfig(name="edges:digits:crayon", resolution=16))


def test_eval_scores_a_drawing_run_on_other_drawings(tmp_path):
    cfg = tiny_config(tmp_path, "digits_mlp", data={"name": "edges:digits", "resolution": 16, "holdout": 200},
                      model={"name": "pix2pix", "g_width": 8, "d_width": 8, "z_dim": 4, "g_depth": None,
                             "d_depth": None}, train={"steps": 2})
    run = start_run(cfg)
    fit(run, callbacks=[])
    from gankit.latent.evaluate import EvalOptions, evaluate_run

    same = evaluate_run(run.dir, EvalOptions(n=50, extractor="identity", cache=False))
    shown = np.asarray(Image.open(run.dir / "heldout.png"))  # 8 held-out (drawing, output, target) triples
    assert 1.3 < shown.shape[1] / shown.shape[0] < 1.7 and (run.dir / "eval.json").is_file()  # 6 tiles by 4
    thick = evaluate_run(run.dir, EvalOptions(n=50, extractor="identity", cache=False, pairs="edges:digits:thick"),
                         write=False)
    assert same["split"] == "holdout" and thick["split"] == "holdout of edges:digits:thick"
    assert {"psnr", "ssim", "edge_f1", "fid"} <= set(same["metrics"])
    assert 0 <= thick["metrics"]["edge_f1"] <= 1
    assert thick["metrics"]["psnr"] != same["metrics"]["psnr"]  # other drawings in, other outputs out
    with pytest.raises(GankitError, match="sources; the run takes"):
        evaluate_run(run.dir, EvalOptions(n=50, extractor="identity", pairs="lowres:digits:2"), write=False)


def test_a_sketch_pulls_the_inverted_image_toward_its_edges():
    """iGAN's constraint on a trained generator (the MNIST demo): fitting z to a drawing of a ring lowers the
    sketch loss well below that of random samples' images."""
    from gankit.latent import load_generator, sample
    from gankit.latent.invert import invert, sketch_loss, sketch_target, soft_edges

    G = load_generator("demo:mnist")
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    radius = ((yy - 14) ** 2 / 64 + (xx - 14) ** 2 / 25).sqrt()
    drawing = torch.where((radius - 1).abs() < 0.12, -1.0, 1.0).view(1, 1, 28, 28)  # an upright ellipse: a 0
    target = sketch_target(drawing)
    before = sketch_loss(sample(G, 64, seed=1), target.expand(64, -1, -1, -1)).median()
    code, error = invert(G, target, steps=80, candidates=32, objective=sketch_loss)
    assert 0.05 * before.item() < error.item() < 0.7 * before.item()
    assert soft_edges(torch.ones(1, 1, 8, 8)).abs().max() < 1e-3  # a flat image has no edges


def test_holding_out_by_identity_keeps_each_person_on_one_side():
    from gankit.data import Dataset, _split

    groups = torch.tensor([0, 0, 0, 1, 2, 2, 3, 4, 4, 4, 5, 6])
    data = Dataset("people", torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1), groups=groups)
    held, train = _split(data, 4, held=True, by="identity"), _split(data, 4, held=False, by="identity")
    assert 4 <= len(held) <= 6 and len(held) + len(train) == 12  # past N by less than the largest group (3)
    assert not set(held.groups.tolist()) & set(train.groups.tolist())
    assert sorted(held.x.flatten().tolist() + train.x.flatten().tolist()) == list(range(12))
    with pytest.raises(GankitError, match="does not say who is in each image"):
        _split(Dataset("anonymous", data.x), 4, held=True, by="identity")
