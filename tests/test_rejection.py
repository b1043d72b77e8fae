"""Discriminator rejection (gankit.latent.rejection, sample/eval --drs): D's top share of draws, per class."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_ARGS, run_cli
from torch import nn

from gankit.core.errors import GankitError
from gankit.latent.rejection import Critic, rejected_latents


class Shift(nn.Module):
    """G(z, y) = z + 10·y: each class a unit Gaussian of its own."""

    z_dim, num_classes = 3, 0

    def __init__(self, classes: int = 0):
        super().__init__()
        self.num_classes = classes
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, z, y=None):
        return z if y is None else z + 10.0 * y[:, None].float()


class NearItsClass(nn.Module):
    """D rates a pack by minus its members' squared distance to their class's centre: the nearer, the realer."""

    def __init__(self, pack: int):
        super().__init__()
        self.pack = pack

    def forward(self, x, y=None):
        centre = 0.0 if y is None else 10.0 * y[:, None].float()
        return -((x - centre) ** 2).sum(1).view(-1, self.pack).sum(1)


def chi2_quantile(axes: int, q: float) -> float:
    """The q quantile of a squared norm of `axes` unit Gaussians, from a million seeded draws."""
    draws = torch.randn(1_000_000, axes, generator=torch.Generator().manual_seed(0)).pow(2).sum(1)
    return draws.sort().values[int(q * len(draws))].item()  # quantile() refuses a million values


def test_keeping_half_keeps_the_draws_d_rates_above_its_median():
    z = rejected_latents(Shift(), Critic(NearItsClass(1), 1), 4000, seed=1, keep=0.5)
    norms = z.pow(2).sum(1)
    median = chi2_quantile(3, 0.5)  # 2.366 for 3 axes
    # D's threshold comes from 4,096 calibration draws, so its edge sits within a few percent of the median
    assert 0.95 * median <= norms.max() <= 1.05 * median
    assert 0.45 * median <= norms.mean() <= 0.65 * median  # below-median chi-square draws: mean 0.56x median
    assert torch.equal(z, rejected_latents(Shift(), Critic(NearItsClass(1), 1), 4000, seed=1, keep=0.5))


def test_each_class_gets_its_own_threshold_and_its_labels():
    labels = torch.tensor([0, 1, 2] * 500)
    z = rejected_latents(Shift(3), Critic(NearItsClass(1), 1), len(labels), seed=2, keep=0.25, labels=labels)
    quartile = chi2_quantile(3, 0.25)
    for c in range(3):  # the same share in every class, though each lies 10 apart
        norms = z[labels == c].pow(2).sum(1)
        assert 0.85 * quartile <= norms.max() <= 1.15 * quartile  # a quartile of 1,365 draws: sd about 4%


def test_a_packed_d_passes_a_latent_when_its_pack_passes():
    z = rejected_latents(Shift(), Critic(NearItsClass(2), 2), 3000, seed=3, keep=0.5)
    norms = z.pow(2).sum(1)
    median = chi2_quantile(3, 0.5)
    # a pack passes on its two members' sum, so a member may be farther out than one judged alone, but
    # fewer draws are far out than without rejection (half of them lie beyond the median)
    assert 0.1 <= (norms > median).float().mean() <= 0.4
    assert norms.max() <= chi2_quantile(6, 0.5) * 1.1


def test_keep_one_is_plain_sampling_and_shares_outside_are_refused():
    plain = rejected_latents(Shift(), Critic(NearItsClass(1), 1), 50, seed=4, keep=1.0)
    # no critic asked: the seed's plain draws, none rejected
    assert torch.equal(plain, torch.randn(50, 3, generator=torch.Generator().manual_seed(4)))
    with pytest.raises(GankitError, match=r"in \(0, 1\]"):
        rejected_latents(Shift(), Critic(NearItsClass(1), 1), 5, keep=0.0)


@pytest.fixture
def conditional_run(tmp_path, capsys) -> Path:
    code, out, _ = run_cli(capsys, "train", "--conditional", "--set", "model.pack=2", "--out",
                           str(tmp_path / "runs"), *TINY_ARGS)
    assert code == 0
    return Path(json.loads(out)["run_dir"])


def test_sample_with_drs_draws_other_latents_reproducibly(conditional_run, tmp_path, capsys):
    arrays = []
    for name, extra in (("plain", []), ("a", ["--drs", "0.5"]), ("b", ["--drs", "0.5"])):
        out = tmp_path / f"{name}.npy"
        code, _, err = run_cli(capsys, "sample", str(conditional_run), "--n", "12", "--label", "3",
                               "--out", str(out), *extra)
        assert code == 0, err
        arrays.append(np.load(out))
    plain, a, b = arrays
    assert a.shape == plain.shape and np.array_equal(a, b) and not np.array_equal(a, plain)


def test_eval_with_drs_scores_the_kept_draws_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, out, _ = run_cli(capsys, "train", "--data", "toy_ring", "--out", str(tmp_path / "runs"), *TINY_ARGS)
    args = ["eval", json.loads(out)["run_dir"], "--n", "200", "--metrics", "fid", "--device", "cpu"]
    results = []
    for extra in ([], ["--drs", "0.5"]):
        code, out, err = run_cli(capsys, *args, *extra)
        assert code == 0, err
        results.append(json.loads(out))
    assert results[0]["drs"] == 1.0 and results[1]["drs"] == 0.5
    assert results[1]["metrics"]["fid"] != results[0]["metrics"]["fid"]


@pytest.mark.parametrize("extra, message", [
    (["--drs", "0.5", "--jbt", "0.9"], "give one"),
    (["--drs", "0.5", "--class-grid"], "cannot take --jbt or --drs"),
    (["--drs", "1.5"], "in (0, 1]"),
])
def test_drs_refusals_are_one_line(conditional_run, tmp_path, capsys, extra, message):
    code, _, err = run_cli(capsys, "sample", str(conditional_run), "--n", "4", "--out", str(tmp_path / "x.npy"),
                           *extra)
    assert code == 2 and message in err.strip().splitlines()[-1] and "Traceback" not in err


def test_a_generator_file_has_no_discriminator_to_reject_with(tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", "demo:mnist", "--n", "4", "--out", str(tmp_path / "x.npy"),
                           "--drs", "0.5")
    assert code == 2 and "holds a generator alone" in err and "--drs" in err
