"""benchmarks/frames_ambiguity.py: how often Moving MNIST's rounded past leaves a digit's next position open."""
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import frames_ambiguity as fa  # noqa: E402


def test_the_bayes_error_counts_what_the_most_common_future_of_each_past_misses():
    past = np.array([[0, 1], [0, 1], [0, 1], [0, 1], [2, 3], [2, 3]], dtype=np.int8)
    future = np.array([2, 2, 2, 3, 4, 4])
    groups = fa.grouped(past, future)
    assert groups[bytes(past[0])] == Counter({2: 3, 3: 1})
    assert fa.bayes_error(groups) == 1 / 6  # one of the first past's four futures; the second past has one


def test_a_digit_s_rounded_past_leaves_its_next_position_open_more_often_the_further_ahead():
    positions, context, horizon = fa.rounded_paths("moving_mnist_small", 100_000, 0)
    assert (context, horizon) == (5, 5) and positions.min() >= 0 and positions.max() <= 32 - 14
    errors = [fa.bayes_error(fa.grouped(np.ascontiguousarray(positions[:, :context, 0]).astype(np.int8),
                                        positions[:, context + k, 0])) for k in range(horizon)]
    assert 0.15 < errors[0] < 0.27  # 0.21 from 2 million paths (benchmarks/results/frames)
    assert errors[-1] > errors[0] + 0.1


def test_the_ideal_blurred_predictor_beats_the_ideal_sharp_one_in_mse(shared_data):
    positions, context, horizon = fa.rounded_paths("moving_mnist_small", 200_000, 0)
    tables = [[fa.grouped(np.ascontiguousarray(positions[:, :context, a]).astype(np.int8), positions[:, context + k, a])
               for k in range(horizon)] for a in (0, 1)]
    out = fa.ideal_mse("moving_mnist_small", tables, 40, 1)
    assert out["clips_scored"] >= 35
    assert 1.1 < out["sharp_over_blurred"] < 2.2  # 1.47 on 2,000 clips
    assert all(b <= s + 1e-9 for b, s in zip(out["blurred_mse_per_frame"], out["sharp_mse_per_frame"]))
