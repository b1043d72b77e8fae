"""benchmarks/frames_ambiguity.py: what Moving MNIST's rounded past leaves open, and what ideal predictors score."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import frames_ambiguity as fa  # noqa: E402
from gankit.data.clips import MOVING_MNIST  # noqa: E402

SMALL = MOVING_MNIST["moving_mnist_small"]


def test_a_past_is_named_by_one_code_and_the_simulated_futures_are_sorted_by_it():
    a = np.array([[[0, 1], [2, 3]], [[0, 1], [2, 4]], [[18, 0], [0, 18]]])
    assert len(set(fa.codes(a, SMALL).tolist())) == 3
    past, future = fa.posteriors(SMALL, 50_000, 0)
    assert (np.diff(past) >= 0).all() and future.shape == (50_000, 5, 2)
    assert future.min() >= 0 and future.max() <= 32 - 14


def test_the_ideal_predictors_of_one_frame_from_the_futures_a_past_had():
    glyph = np.zeros((14, 14))
    glyph[3:10, 6:8] = 1.0
    seen = np.array([[2, 3], [2, 3], [2, 3], [2, 4]])  # three of four went to column 3, one to column 4
    out = fa.predictors(glyph, 32, *np.unique(seen, axis=0, return_counts=True))
    at = {c: fa.place(glyph, 32, 2, c) for c in (3, 4)}
    np.testing.assert_allclose(out["map"], at[3])
    np.testing.assert_allclose(out["posterior_mean"], 0.75 * at[3] + 0.25 * at[4])
    np.testing.assert_allclose(out["bilinear_at_mean"], out["posterior_mean"])  # neighbours: bilinear at 3.25
    np.testing.assert_allclose(out["tempered_2"], 0.9 * at[3] + 0.1 * at[4])  # 9 : 1
    assert out["map"].sum() == out["posterior_mean"].sum() == glyph.sum()
    edge = fa.place(glyph, 32, 18 + 1e-12, 18.0)  # the last corner, a rounding past it: still whole, in the frame
    np.testing.assert_allclose(edge, fa.place(glyph, 32, 18, 18))


def test_on_test_clips_sharp_ideal_predictions_cost_mse_that_blurred_ones_do_not(shared_data):
    past, future = fa.posteriors(SMALL, 1_000_000, 0)
    out = fa.ideal("moving_mnist_small", past, future, 40)
    rows = out["predictors"]
    assert out["pasts_never_simulated"] <= 6  # their own futures stand in: 1 of 40 here
    assert 0.1 < out["map_wrong_per_frame"][0] < 0.45 and out["map_wrong_per_frame"][-1] > out["map_wrong_per_frame"][0]
    assert 0.99 < rows["map"]["sharpness"] < 1.01 and 0.4 < rows["posterior_mean"]["sharpness"] < 0.8
    assert rows["posterior_mean"]["sharpness"] < rows["tempered_3"]["sharpness"] < rows["map"]["sharpness"]
    assert 1.1 < rows["map"]["mse"] / rows["posterior_mean"]["mse"] < 2.2  # 1.46 on 10,000 clips, 12 million paths
