"""benchmarks/time_to_quality.py --score: a kept generator scored with truncated latents, as snapshots are."""
import sys
from argparse import Namespace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from time_to_quality import at_mark, kept_rows, real_rows  # noqa: E402


def _args(run: str, psi: float, jbt: float = 1.0, drs: float = 1.0) -> Namespace:
    return Namespace(score=run, psi=psi, jbt=jbt, drs=drs, n=200, device="cpu", arm="", minutes=20.0)


def test_truncation_trades_variety_for_fidelity_on_a_labelled_generator(shared_data):
    [flat], _ = kept_rows(_args("demo:fashion", 1.0))
    rows, about = kept_rows(_args("demo:fashion", 0.0))
    assert about["conditional"] and about["psi"] == 0.0
    # psi 0: every latent is the mean, so each class is one image drawn 20 times
    assert rows[0]["class_diversity"] == pytest.approx([0.0] * 10, abs=1e-4)
    assert 0.5 <= flat["worst_class_diversity"] <= 1.5  # untruncated: about as varied as real images
    assert rows[0]["train_seconds"] == 1200 and rows[0]["finished"]
    # it stands for the 20-minute mark alone, not for the earlier ones a merge may ask about
    assert at_mark(rows, 20) is rows[0] and at_mark(rows, 5) is None
    # one kept at 5 minutes is not what a user has at 20 either
    five = [{**rows[0], "train_seconds": 300.0}]
    assert at_mark(five, 5) is five[0] and at_mark(five, 20) is None


def test_jacobian_truncation_scores_other_latents_of_the_same_classes(shared_data):
    [flat], _ = kept_rows(_args("demo:fashion", 1.0))
    [cut], about = kept_rows(_args("demo:fashion", 1.0, jbt=0.5))
    assert about["jbt"] == 0.5 and about["psi"] == 1.0
    assert cut["class_diversity"] != flat["class_diversity"]  # the latents were redrawn, the labels kept
    assert cut["class_shares"] == pytest.approx([0.1] * 10, abs=0.06)
    # the draws G stretches most go: the rest vary less, as they do under psi
    assert 0.5 <= cut["worst_class_diversity"] < flat["worst_class_diversity"]


def test_a_model_of_clusters_is_scored_on_its_clusters_in_their_shares(shared_data):
    [row], about = kept_rows(_args("demo:mnist", 1.0))
    assert not about["conditional"] and "class_accuracy" not in row  # its classes are clusters, not digits
    # the clusters in MNIST's proportions, so each digit about a tenth of the samples (7-13% at 200 samples)
    assert all(0.05 <= share <= 0.16 for share in row["class_shares"])
    assert row["classes_covered"] == 10


def test_real_test_images_give_the_judges_own_accuracy_per_class(shared_data):
    [row], about = real_rows(Namespace(real_test="mnist", n=1000, arm=""))
    assert about["dataset"] == "mnist" and len(row["class_accuracy"]) == 10
    # the bundled judge names 99.5% of real test digits right; no class of them falls far below
    assert all(0.95 <= a <= 1.0 for a in row["class_accuracy"])
    assert row["worst_class_accuracy"] == pytest.approx(min(row["class_accuracy"]), abs=1e-4)
    assert 0.97 <= row["confident"] <= 1.0
