"""GANs as a data source: few labels, the semi-supervised GAN, D as a classifier, labelled datasets of samples."""
import json

import numpy as np
import pytest
import torch
from conftest import one_error_line, run_cli, tiny_config

from gankit.core.errors import GankitError
from gankit.data import DataConfig, SemiSampler, load_dataset
from gankit.latent.classify import load_classifier_d
from gankit.losses import feature_matching
from gankit.training import fit, start_run
from gankit.training.loop import training_data
from gankit.training.steps import _class_loss

SSGAN = {"model": {"name": "ssgan", "g_width": 16, "d_width": 32, "z_dim": 8, "g_depth": 1, "d_depth": 3},
         "loss": {"adversarial": 0.0, "feature_matching": 1.0}}


def test_labeled_per_class_keeps_k_labels_of_each_class_seeded():
    data = load_dataset(DataConfig(name="digits", labeled_per_class=5, label_seed=1))
    full = load_dataset(DataConfig(name="digits"))
    kept = data.labels >= 0
    assert torch.bincount(data.labels[kept], minlength=10).tolist() == [5] * 10
    assert int((~kept).sum()) == len(full) - 50
    assert torch.equal(data.labels[kept], full.labels[kept])  # kept labels are the true ones
    assert data.extra["labeled_indices"] == kept.nonzero().flatten().tolist()
    again = load_dataset(DataConfig(name="digits", labeled_per_class=5, label_seed=1))
    other = load_dataset(DataConfig(name="digits", labeled_per_class=5, label_seed=2))
    assert torch.equal(again.labels, data.labels) and not torch.equal(other.labels, data.labels)
    test = load_dataset(DataConfig(name="digits", split="test", labeled_per_class=5))
    assert int((test.labels < 0).sum()) == 0  # only the training split loses labels


def test_labeled_per_class_refuses_more_than_the_smallest_class_and_unlabelled_data():
    with pytest.raises(GankitError, match="smallest class"):
        load_dataset(DataConfig(name="digits", labeled_per_class=1000))
    with pytest.raises(GankitError, match="has none"):
        load_dataset(DataConfig(name="lfw_subset", labeled_per_class=2))


def test_few_labels_train_a_conditional_model_on_the_labelled_images_only(tmp_path):
    cond = tiny_config(tmp_path, data={"labeled_per_class": 4}, model={"conditional": True})
    assert len(training_data(cond)) == 40
    semi = tiny_config(tmp_path, data={"labeled_per_class": 4}, **SSGAN)
    assert len(training_data(semi)) == 1797
    plain = tiny_config(tmp_path, data={"labeled_per_class": 4})
    with pytest.raises(GankitError, match="uses none"):
        training_data(plain)


def test_semi_sampler_halves_are_labelled_and_hidden_and_it_resumes_exactly():
    data = load_dataset(DataConfig(name="digits", labeled_per_class=2))
    sampler = SemiSampler(data, 8, seed=0)
    x, y = sampler.next()
    assert x.shape == (8, 1, 8, 8) and (y[:4] >= 0).all() and (y[4:] == -1).all()
    state = sampler.state_dict()
    ahead = [sampler.next() for _ in range(7)]  # the labelled half (20 images) wraps round twice
    other = SemiSampler(data, 8, seed=0)
    other.load_state_dict(state)
    for (xa, ya), (xb, yb) in zip(ahead, [other.next() for _ in range(7)]):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    with pytest.raises(GankitError, match="keeps 20 labels"):
        SemiSampler(data, 42, seed=0)
    with pytest.raises(GankitError, match="even"):
        SemiSampler(data, 7, seed=0)


def test_class_loss_counts_only_labelled_samples():
    logits = torch.tensor([[4.0, 0.0], [0.0, 4.0], [9.0, -9.0]])
    both = _class_loss(logits, torch.tensor([0, 1, -1]))
    one = torch.nn.functional.cross_entropy(logits[:2], torch.tensor([0, 1]))
    assert torch.allclose(both, one)
    assert _class_loss(logits, torch.tensor([-1, -1, -1])).item() == 0.0  # not NaN


def test_feature_matching_is_zero_for_matching_statistics_and_trains_only_the_fakes():
    D = torch.nn.Module()
    D.features = torch.nn.Linear(3, 2)
    term = feature_matching(D)
    real = torch.randn(6, 3)
    assert term(real.clone(), real).item() == pytest.approx(0.0, abs=1e-12)
    fake = (real + 1).requires_grad_()
    loss = term(fake, real)
    loss.backward()
    expected = ((D.features(real + 1).mean(0) - D.features(real).mean(0)) ** 2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5) and loss.item() > 0
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_ssgan_learns_to_classify_from_few_labels(tmp_path):
    """Digits with 10 labels per class: D, trained semi-supervised for 300 steps, names the classes of the
    whole dataset far above chance (measured 0.875, 0.887, 0.899 for train.seed 0, 1, 2; chance is 0.10)."""
    cfg = tiny_config(tmp_path, data={"labeled_per_class": 10}, **SSGAN,
                      train={"steps": 300, "batch_size": 40, "lr_g": 0.003, "lr_d": 0.003, "log_every": 100,
                             "sample_every": 0, "checkpoint_every": 0})
    run = start_run(cfg)
    fit(run)  # its standard callbacks write the final checkpoint that classify reads
    clf = load_classifier_d(run.dir)
    accuracy = clf.accuracy(load_dataset(DataConfig(name="digits", split="test")))
    assert 0.75 <= accuracy <= 0.97
    assert clf.class_names == tuple(str(k) for k in range(10)) and clf.shape == (1, 8, 8)


@pytest.fixture(scope="module")
def ssgan_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssgan")
    cfg = tiny_config(tmp, data={"labeled_per_class": 4}, **SSGAN)
    run = start_run(cfg)
    fit(run)
    return run.dir


def test_classify_writes_one_prediction_per_image(ssgan_run, tmp_path, capsys):
    images = load_dataset(DataConfig(name="digits")).x[:5, 0].numpy()
    np.save(tmp_path / "digits.npy", images)
    code, out, _ = run_cli(capsys, "classify", str(ssgan_run), "--input", str(tmp_path / "digits.npy"),
                           "--out", str(tmp_path / "p.csv"))
    assert code == 0 and json.loads(out)["n"] == 5
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "name,class,index,confidence" and len(rows) == 6
    name, cls, index, confidence = rows[1].split(",")
    best = load_classifier_d(ssgan_run).probabilities(torch.from_numpy(images[:1, None])).max(1)
    assert name == "0" and cls == index == str(int(best.indices)) and float(confidence) == pytest.approx(
        float(best.values), abs=5e-5)
    code, out, _ = run_cli(capsys, "classify", str(ssgan_run), "--input", str(tmp_path / "digits.npy"))
    assert code == 0 and out.splitlines()[1:] == rows[1:]


def test_classify_refuses_a_discriminator_that_names_no_classes(tmp_path, capsys):
    run = start_run(tiny_config(tmp_path))
    np.save(tmp_path / "d.npy", np.zeros((2, 8, 8), np.uint8))
    code, _, err = run_cli(capsys, "classify", str(run.dir), "--input", str(tmp_path / "d.npy"))
    assert "names no classes" in one_error_line(code, err)


def test_eval_reports_the_discriminators_test_accuracy(ssgan_run, capsys):
    code, out, _ = run_cli(capsys, "eval", str(ssgan_run), "--n", "200", "--metrics", "fid", "--device", "cpu")
    accuracy = json.loads(out)["metrics"]["d_test_accuracy"]
    assert code == 0 and accuracy == pytest.approx(load_classifier_d(ssgan_run).accuracy(
        load_dataset(DataConfig(name="digits", split="test"))), abs=1e-9)


def test_sample_per_class_writes_a_labelled_folder_and_npz(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "sample", "demo:fashion", "--per-class", "3", "--out", f"{tmp_path / 'syn'}/",
                           "--device", "cpu")
    assert code == 0 and json.loads(out)["n"] == 30
    folders = sorted(p.name for p in (tmp_path / "syn").iterdir())
    assert len(folders) == 10 and "sneaker" in " ".join(folders).lower()
    assert all(len(list((tmp_path / "syn" / f).glob("*.png"))) == 3 for f in folders)
    read = load_dataset(DataConfig(name="folder", path=str(tmp_path / "syn")))  # gankit reads it back, labelled
    assert len(read) == 30 and torch.bincount(read.labels).tolist() == [3] * 10
    code, _, _ = run_cli(capsys, "sample", "demo:fashion", "--per-class", "2", "--out", str(tmp_path / "s.npz"),
                         "--device", "cpu")
    blob = np.load(tmp_path / "s.npz")
    assert code == 0 and blob["x"].shape == (20, 28, 28, 1) and blob["x"].dtype == np.uint8
    assert blob["y"].tolist() == sorted(list(range(10)) * 2) and len(blob["class_names"]) == 10


def test_sample_min_confidence_keeps_only_what_the_classifier_believes(tmp_path):
    from gankit.latent import load_generator
    from gankit.latent.synthetic import per_class
    from gankit.metrics.extractors import build_extractor

    generator = load_generator("demo:fashion")
    samples, labels = per_class(generator, 20, seed=0, min_confidence=0.9)
    judge = build_extractor("classifier", "fashion_mnist")
    probs = judge(samples)[1].softmax(1)
    assert (probs[torch.arange(len(labels)), labels] >= 0.9).all()
    plain, _ = per_class(generator, 20, seed=0)
    plain_probs = judge(plain)[1].softmax(1)[torch.arange(len(labels)), labels]
    assert (plain_probs < 0.9).any()  # so the filter had something to do


def test_sample_per_class_refusals(tmp_path, capsys):
    for argv, says in ((["demo:mnist", "--per-class", "3", "--out", f"{tmp_path / 'a'}/"], "clusters of the images"),
                       (["demo:fashion", "--per-class", "3", "--out", str(tmp_path / "a.png")], "labelled dataset"),
                       (["demo:fashion", "--min-confidence", "0.9", "--out", f"{tmp_path / 'a'}/"], "--per-class N"),
                       (["demo:fashion", "--per-class", "3", "--label", "1", "--out", f"{tmp_path / 'a'}/"],
                        "no --label")):
        code, _, err = run_cli(capsys, "sample", *argv, "--device", "cpu")
        assert says in one_error_line(code, err)


def test_ssgan_refuses_conditional_and_unlabelled_data(tmp_path):
    with pytest.raises(GankitError, match="semi-supervised"):
        start_run(tiny_config(tmp_path, **{**SSGAN, "model": {**SSGAN["model"], "conditional": True}}))
    with pytest.raises(GankitError, match="semi-supervised"):
        start_run(tiny_config(tmp_path, data={"name": "lfw_subset", "resolution": 8}, **SSGAN))


def test_classical_augmentation_moves_digits_seeded_and_keeps_the_background():
    from gankit.metrics.downstream import classical_augment

    x = torch.full((4, 1, 28, 28), -1.0)
    x[:, :, 10:18, 12:16] = 1.0  # a bar
    a = classical_augment(x, torch.Generator().manual_seed(0))
    b = classical_augment(x, torch.Generator().manual_seed(0))
    c = classical_augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= -1.0001 and a.max() <= 1.0001
    assert (a[:, :, :3, :] == -1).float().mean() > 0.99  # borders stay background
    moved = (a - x).abs().mean(dim=(1, 2, 3))
    assert (moved > 0.01).all() and (moved < 0.5).all()  # changed, not destroyed
    def ink(img):
        return ((img + 1) / 2).sum(dim=(1, 2, 3)) / ((x + 1) / 2).sum(dim=(1, 2, 3))

    rigid = ink(classical_augment(x, torch.Generator().manual_seed(0), elastic=0))
    assert ((rigid > 0.78) & (rigid < 1.28)).all()  # area scaled by (1 ± 10%)^-2 at most, give or take resampling
    assert ((ink(a) > 0.5) & (ink(a) < 1.7)).all()  # elastic distortion bends the bar, never erases it


def test_flips_mirror_about_half_the_images_and_the_clothes_style_resamples_no_pixel():
    from gankit.metrics.downstream import STYLES, Mix, classical_augment

    x = torch.full((200, 1, 12, 12), -1.0)
    x[:, :, 2:10, 1:4] = 1.0  # a bar on the left: its mirror image is told apart
    plain = classical_augment(x, torch.Generator().manual_seed(0))
    flipped = classical_augment(x, torch.Generator().manual_seed(0), flip=True)
    same = (flipped == plain).flatten(1).all(1)
    mirrored = (flipped == plain.flip(-1)).flatten(1).all(1)
    assert bool((same ^ mirrored).all())  # each image is the unflipped draw or its mirror image
    assert 0.35 <= mirrored.float().mean() <= 0.65
    clothes = classical_augment(x, torch.Generator().manual_seed(0), **STYLES["clothes"])
    kept, mirrored = (clothes == x).flatten(1).all(1), (clothes == x.flip(-1)).flatten(1).all(1)
    assert bool((kept ^ mirrored).all())  # mirror images only, not a pixel resampled
    assert 0.35 <= mirrored.float().mean() <= 0.65
    with pytest.raises(GankitError, match="unknown augmentation style 'faces'"):
        Mix(x, torch.zeros(200, dtype=torch.long), augment=True, style="faces")


def test_downstream_mix_draws_the_asked_share_of_fakes_and_a_classifier_learns():
    from gankit.metrics.downstream import Mix, _batch, accuracy_on, train_classifier

    real_x, fake_x = torch.zeros(10, 1, 8, 8), torch.ones(30, 1, 8, 8)
    y = torch.zeros(10, dtype=torch.long)
    x, _ = _batch(Mix(real_x, y, fake_x, torch.zeros(30, dtype=torch.long), 2.0), 60, torch.Generator())
    assert int(x.mean(dim=(1, 2, 3)).sum()) == 40  # 2 fakes per real
    x, _ = _batch(Mix(None, None, fake_x, torch.zeros(30, dtype=torch.long)), 16, torch.Generator())
    assert bool((x == 1).all())
    # two classes told apart by which half of the image is lit
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (200,), generator=gen)
    images = torch.full((200, 1, 8, 8), -1.0) + 0.1 * torch.randn(200, 1, 8, 8, generator=gen)
    images[labels == 0, :, :, :4] += 1.5
    images[labels == 1, :, :, 4:] += 1.5
    model = train_classifier(Mix(images[:100], labels[:100]), 2, steps=60, batch_size=32, seed=0)
    assert 0.95 <= accuracy_on(model, images[100:], labels[100:]) <= 1.0
