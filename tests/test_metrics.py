"""Metric correctness: closed forms, references, orientation and batch-size independence."""
import numpy as np
import pytest
import torch

from gankit.core.errors import GankitError
from gankit.data import DataConfig, load_dataset
from gankit.metrics import mode_stats, scores
from gankit.metrics.classifier import Judge, load_classifier, prepare, save_classifier
from gankit.metrics.evaluate import METRICS, Features, compute, parse_metrics, real_features
from gankit.metrics.extractors import ClassifierExtractor, extract, inception_input


def _gauss(n, d, seed, shift=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(shift, scale, size=(n, d)).astype(np.float32)


def test_fid_of_a_set_with_itself_is_zero():
    x = _gauss(500, 16, 0)
    assert scores.fid(x, x)["fid"] == pytest.approx(0.0, abs=1e-6)


def test_fid_with_equal_covariances_is_the_squared_mean_difference():
    cov = np.diag(np.linspace(0.5, 2.0, 8))
    mu1, mu2 = np.zeros(8), np.arange(8) / 4
    assert scores.frechet_distance(mu1, cov, mu2, cov) == pytest.approx(float(mu2 @ mu2), rel=1e-9)


def test_fid_matches_a_float64_sqrtm_reference():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    a, b = _gauss(400, 32, 1), _gauss(300, 32, 2, shift=0.3, scale=1.5)
    b[:, :4] += a[:300, :4]  # correlated features, so the covariances do not commute
    mu1, s1 = a.astype(np.float64).mean(0), np.cov(a.astype(np.float64), rowvar=False)
    mu2, s2 = b.astype(np.float64).mean(0), np.cov(b.astype(np.float64), rowvar=False)
    covmean = scipy_linalg.sqrtm(s1 @ s2).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert scores.fid(a, b)["fid"] == pytest.approx(ref, rel=1e-6)
    assert ref > 1.0  # a real difference, not a trivial zero


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    same = scores.kid(_gauss(1000, 16, 3), _gauss(1000, 16, 4), subsets=20, subset_size=500)
    other = scores.kid(_gauss(1000, 16, 3), _gauss(1000, 16, 5, shift=0.5), subsets=20, subset_size=500)
    assert abs(same["kid"]) < 3 * same["kid_std"] + 1e-3
    assert 0.5 < other["kid"] < 2.0
    assert other["kid_std"] > 0


def test_a_collapsed_set_keeps_precision_and_loses_recall():
    real = _gauss(600, 8, 6)
    collapsed = _gauss(600, 8, 7, scale=0.05)  # everything near the real mode's center
    matched = _gauss(600, 8, 8)
    c, m = scores.precision_recall(real, collapsed), scores.precision_recall(real, matched)
    assert c["precision"] > 0.95
    assert c["recall"] < 0.1
    assert 0.6 < m["precision"] <= 1.0 and 0.6 < m["recall"] <= 1.0
    dc = scores.density_coverage(real, collapsed)
    assert dc["coverage"] < 0.2
    assert dc["density"] > 1.5  # piled up where the real data is densest


def test_manifold_scores_do_not_depend_on_the_chunk_size():
    real, fake = _gauss(300, 6, 9), _gauss(250, 6, 10, shift=0.2)
    a = scores.knn_manifold_scores(real, fake, k=3, chunk=1000)
    b = scores.knn_manifold_scores(real, fake, k=3, chunk=7)
    assert a == b


def test_manifold_scores_match_the_prdc_reference():
    prdc = pytest.importorskip("prdc")
    real, fake = _gauss(400, 10, 11), _gauss(350, 10, 12, shift=0.3, scale=1.2)
    ours = scores.knn_manifold_scores(real, fake, k=5)
    ref = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(float(ref[key]), abs=1e-3), key


def test_inception_score_of_uniform_confident_predictions_is_the_class_count():
    logits = np.full((1000, 10), -50.0)
    logits[np.arange(1000), np.arange(1000) % 10] = 50.0
    out = scores.inception_score(logits)
    assert out["is"] == pytest.approx(10.0, rel=1e-6)
    assert scores.inception_score(np.zeros((100, 10)))["is"] == pytest.approx(1.0, abs=1e-9)


def test_class_stats_of_a_collapsed_and_a_balanced_set():
    one = np.zeros((100, 10))
    one[:, 3] = 20.0
    s = scores.class_stats(one)
    assert s["classes_covered"] == 1 and s["class_kl"] == pytest.approx(np.log(10), rel=1e-9)
    balanced = np.eye(10)[np.arange(1000) % 10] * 20.0
    s = scores.class_stats(balanced)
    assert s["classes_covered"] == 10 and s["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert s["confident"] == pytest.approx(1.0) and s["confident_classes"] == 10


def test_confident_classes_need_a_quarter_share_of_sure_predictions():
    # 1,000 samples of 10 classes: a class counts with >= 25 confident predictions (a quarter of 100)
    y = np.concatenate([np.repeat(np.arange(8), 120), np.full(25, 8), np.full(15, 9)])
    logits = np.eye(10)[y] * 20.0
    logits[-15:] = np.eye(10)[9] * 20.0
    assert scores.class_stats(logits)["confident_classes"] == 9  # class 9 has 15, too rare
    unsure = logits.copy()
    unsure[:120] = np.eye(10)[0] * 1.0  # class 0 predicted, but with p = e/(e+9) ~ 0.23 < 0.9
    s = scores.class_stats(unsure)
    assert s["classes_seen"] == 10 and s["classes_covered"] == s["confident_classes"] == 8


def test_kl_to_uniform_of_histograms():
    assert scores.kl_to_uniform([5, 5, 5, 5]) == pytest.approx(0.0, abs=1e-12)
    assert scores.kl_to_uniform([0, 7, 0, 0]) == pytest.approx(np.log(4), rel=1e-12)
    # halves on two of four bins: 2 * 0.5 * log(0.5 * 4) = log 2
    assert scores.kl_to_uniform([3, 0, 3, 0]) == pytest.approx(np.log(2), rel=1e-12)
    assert scores.kl_to_uniform([0, 0, 0]) == float("inf")


def test_class_stats_name_the_most_and_least_drawn_classes():
    # 1,000 predictions: class 7 on 160, class 4 on 40, the other eight on 100 each
    y = np.concatenate([np.full(160, 7), np.full(40, 4), np.repeat([0, 1, 2, 3, 5, 6, 8, 9], 100)])
    s = scores.class_stats(np.eye(10)[y] * 20.0)
    assert (s["most_drawn_class"], s["least_drawn_class"]) == (7, 4)
    assert s["most_drawn_share"] == pytest.approx(0.16, abs=1e-12)
    assert s["least_drawn_share"] == pytest.approx(0.04, abs=1e-12)


def test_metric_registry_names_and_errors():
    assert parse_metrics("", has_logits=False) == ["fid", "kid", "pr", "dc"]
    assert parse_metrics("FID, precision_recall", has_logits=False) == ["fid", "pr"]
    with pytest.raises(GankitError, match="Did you mean"):
        parse_metrics("fdi", has_logits=False)
    feats = Features(_gauss(50, 4, 0), None)
    with pytest.raises(GankitError, match="classifier"):
        compute(["is"], feats, feats)
    assert set(METRICS.names()) >= {"fid", "kid", "pr", "dc", "is", "classes"}


def test_inception_preprocessing_on_known_images():
    gray = torch.full((1, 1, 28, 28), 128, dtype=torch.uint8)
    x = inception_input(gray)
    assert x.shape == (1, 3, 299, 299)
    assert torch.equal(x, torch.zeros_like(x))  # 128 is the network's zero
    white = inception_input(torch.ones(1, 3, 299, 299))  # float 1.0 is uint8 255
    assert torch.allclose(white, torch.full_like(white, 127 / 128))
    ramp = torch.arange(4, dtype=torch.uint8).mul(85).view(1, 1, 1, 4).expand(1, 3, 4, 4)  # 0 85 170 255
    row = inception_input(ramp)[0, 0, 0]
    assert row[0].item() == pytest.approx(-1.0) and row[-1].item() == pytest.approx(127 / 128)
    assert torch.all(row[1:] >= row[:-1])  # bilinear: monotone between the pixel values
    # float in [-1, 1] is quantized to 8 bits first, as the reference code only sees PNG-like images
    assert torch.equal(inception_input(torch.full((1, 1, 2, 2), 0.0)),
                       inception_input(torch.full((1, 1, 2, 2), 128, dtype=torch.uint8)))


def test_classifier_extractor_joint_classes_of_stacked_channels(tmp_path):
    torch.manual_seed(0)
    judge = Judge(num_classes=10, width=4)
    save_classifier(judge, tmp_path / "j.pt", {"dataset": "mnist"})
    model, meta = load_classifier(tmp_path / "j.pt")
    assert meta == {"dataset": "mnist"}
    ex = ClassifierExtractor(tmp_path / "j.pt", torch.device("cpu"))
    x = torch.rand(5, 3, 28, 28) * 2 - 1
    feats, logits = ex(x)
    assert feats.shape == (5, 3 * 16) and logits.shape == (5, 1000)
    per_channel = torch.log_softmax(model(prepare(x)), 1).view(5, 3, 10)
    a, b, c = per_channel.argmax(2).unbind(1)
    assert torch.equal(logits.argmax(1), a * 100 + b * 10 + c)
    assert torch.allclose(logits.exp().sum(1), torch.ones(5), atol=1e-5)


def test_extraction_does_not_depend_on_the_batch_size(tmp_path):
    torch.manual_seed(0)
    save_classifier(Judge(width=4), tmp_path / "j.pt", {"dataset": "mnist"})
    ex = ClassifierExtractor(tmp_path / "j.pt", torch.device("cpu"))
    images = torch.randint(0, 256, (30, 1, 28, 28), dtype=torch.uint8)
    f1, l1 = extract(ex, images.split(30))
    f2, l2 = extract(ex, images.split(7))
    np.testing.assert_allclose(f1, f2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(l1, l2, rtol=1e-5, atol=1e-5)


def test_real_features_are_cached(tmp_path, monkeypatch):
    from gankit.data import Dataset

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    torch.manual_seed(0)
    save_classifier(Judge(width=4), tmp_path / "j.pt", {"dataset": "mnist"})
    ex = ClassifierExtractor(tmp_path / "j.pt", torch.device("cpu"))
    data = Dataset("mnist", torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8))
    first = real_features(data, ex, 25, key="mnist-train-28")
    assert first.feats.shape == (25, 16)
    assert len(list((tmp_path / "cache" / "gankit" / "stats").iterdir())) == 1
    data.x.zero_()  # were the cache ignored, the features would change
    again = real_features(data, ex, 25, key="mnist-train-28")
    np.testing.assert_array_equal(first.feats, again.feats)
    fresh = real_features(data, ex, 25, key="mnist-train-28", cache=False)
    assert not np.array_equal(first.feats, fresh.feats)


def _tiny_judge(path):
    torch.manual_seed(0)
    save_classifier(Judge(width=4), path, {"dataset": "digits"})
    return str(path)


def test_training_evaluates_periodically_and_keeps_the_best_checkpoint(tmp_path, monkeypatch):
    from conftest import tiny_config

    from gankit.core.files import read_jsonl
    from gankit.training import fit, start_run

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cfg = tiny_config(tmp_path, train={"steps": 40, "log_every": 10},
                      eval={"every": 20, "n": 64, "extractor": "classifier",
                            "weights": _tiny_judge(tmp_path / "j.pt")})
    run = start_run(cfg)
    fit(run)
    rows = [r for r in read_jsonl(run.dir / "metrics.jsonl") if "eval_fid" in r]
    assert [r["step"] for r in rows] == [20, 40]
    assert all(r["eval_fid"] > 0 for r in rows)
    assert (run.dir / "best.pt").is_file()
    from gankit.checkpoint import load_checkpoint
    best_step = load_checkpoint(run.dir / "best.pt")["step"]
    assert best_step == min(rows, key=lambda r: r["eval_fid"])["step"]


def test_the_judge_learns_a_simple_labelled_set():
    from gankit.data import Dataset
    from gankit.metrics.classifier import accuracy, train_classifier

    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 60, (400, 1, 28, 28), generator=gen, dtype=torch.uint8)
    y = torch.arange(400) % 2
    x[y == 0, :, 10:18, 4:24] = 255  # class 0: a horizontal bar; class 1: a vertical one
    x[y == 1, :, 4:24, 10:18] = 255
    data = Dataset("bars", x, y, ["horizontal", "vertical"])
    model, acc = train_classifier(data, data, epochs=2, batch_size=50, log=lambda s: None)
    assert acc == accuracy(model, data) and acc > 0.95


def test_the_reference_inception_gives_batch_independent_pool3_features(shared_data):
    from gankit.metrics import build_extractor

    ex = build_extractor("inception", "mnist", data_dir=str(shared_data))
    assert ex.id == "inception-7ff4a85c3a63"  # the file published FIDs are computed with
    images = torch.randint(0, 256, (3, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    together, _ = extract(ex, [images])
    apart, _ = extract(ex, images.split(1))
    assert together.shape == (3, 2048) and (together >= 0).all()  # pool3 follows a ReLU
    np.testing.assert_allclose(together, apart, rtol=1e-4, atol=1e-4)
    assert np.abs(together[0] - together[1]).max() > 1e-2  # different images, different features


def test_eval_config_is_checked():
    from gankit.training import resolve

    assert resolve("digits_mlp", [{"eval": {"every": 100, "metric": "kid"}}]).eval.metric == "kid"
    with pytest.raises(GankitError, match="cannot rank checkpoints"):
        resolve("digits_mlp", [{"eval": {"metric": "pr"}}])
    with pytest.raises(GankitError, match="eval.every"):
        resolve("digits_mlp", [{"eval": {"every": -1}}])


@pytest.mark.parametrize("name,target", [("mnist", 0.993), ("fashion_mnist", 0.92)])
def test_the_bundled_judges_meet_their_accuracy_targets(shared_data, name, target):
    from gankit.data import DataConfig, load_dataset
    from gankit.metrics.classifier import accuracy, bundled_classifier

    model, meta = load_classifier(bundled_classifier(name))
    assert meta["dataset"] == name and meta["test_accuracy"] >= target
    test = load_dataset(DataConfig(name=name, data_dir=str(shared_data), split="test"))
    test.x, test.labels = test.x[:2000], test.labels[:2000]
    assert accuracy(model, test) == pytest.approx(meta["test_accuracy"], abs=0.01)  # the recorded figure holds


def test_mode_stats_on_the_grid_itself_a_collapsed_set_and_a_bridge():
    data = load_dataset(DataConfig(name="toy_grid", num_points=20000))
    centers, std = torch.tensor(data.extra["centers"]), data.extra["std"]
    real = mode_stats(data.x, centers, std)
    # a 2-D Gaussian lies within 3 std with probability 1 - exp(-4.5) = 0.989; cut there, its per-axis RMS is 0.974 std
    assert real["modes"] == 25 and 0.984 < real["high_quality"] < 0.994 and real["kl"] < 0.01
    assert 0.95 < real["spread"] < 1.0
    piled = mode_stats(centers.repeat(40, 1) + 1e-4, centers, std)  # every mode reached, as points
    # each point sits 1e-4 off its mode on both axes: a per-axis RMS of 1e-4 = 0.002 std
    assert piled["modes"] == 25 and piled["high_quality"] == 1.0 and piled["spread"] == pytest.approx(0.002, rel=0.05)
    one = mode_stats(centers[:1].repeat(100, 1), centers, std)
    assert one["modes"] == 1 and one["kl"] == pytest.approx(np.log(25), rel=1e-6)
    assert one["coverage"] == pytest.approx(1 / 25)
    bridge = mode_stats(torch.tensor([[1.0, 0.0], [0.0, 0.1]]), centers, std)
    assert bridge["modes"] == 1 and bridge["high_quality"] == 0.5
