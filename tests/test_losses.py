"""Loss values against closed forms, and the sign convention: positive logit = real."""
import math

import pytest
import torch

from gankit.losses import LOSSES, PENALTIES

ZERO = torch.zeros(4)
CLOSED_FORMS = {  # (D loss at logits 0/0, G loss at fake logit 0)
    "minimax": (2 * math.log(2), -math.log(2)),
    "nonsaturating": (2 * math.log(2), math.log(2)),
    "least_squares": (1.0, 0.5),
    "wasserstein": (0.0, 0.0),
    "hinge": (2.0, 0.0),
    "relativistic": (2 * math.log(2), 2 * math.log(2)),
}


def _g(loss, fake, real=ZERO):
    """G's loss; a relativistic one also takes the real images' logits."""
    return loss.g_loss(fake, real) if loss.relativistic else loss.g_loss(fake)


@pytest.mark.parametrize("name", LOSSES.names())
def test_values_at_zero_logits(name):
    d, g = CLOSED_FORMS[name]
    loss = LOSSES.get(name)
    torch.testing.assert_close(loss.d_loss(ZERO, ZERO), torch.tensor(d), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(_g(loss, ZERO), torch.tensor(g), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", LOSSES.names())
def test_sign_convention(name):
    """D's loss is lower when reals score positive and fakes negative; G's when its fakes score positive."""
    loss = LOSSES.get(name)
    pos, neg = torch.full((4,), 2.0), torch.full((4,), -2.0)
    assert loss.d_loss(pos, neg) < loss.d_loss(neg, pos)
    assert _g(loss, pos) < _g(loss, neg)


def test_relativistic_losses_see_only_differences_and_reward_g_for_lowering_the_reals():
    loss = LOSSES.get("relativistic")
    r, f = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.5])
    for shift in (-4.0, 7.0):  # D says "more real than the other kind", so one constant on every logit is nothing
        torch.testing.assert_close(loss.d_loss(r + shift, f + shift), loss.d_loss(r, f))
        torch.testing.assert_close(loss.g_loss(f + shift, r + shift), loss.g_loss(f, r))
    expected = (math.log1p(math.exp(-(1 + 0.25))) + math.log1p(math.exp(-(3 + 0.25)))) / 2 + \
        (math.log1p(math.exp(-1 - 2)) + math.log1p(math.exp(0.5 - 2))) / 2
    torch.testing.assert_close(loss.d_loss(r, f), torch.tensor(expected, dtype=torch.float32))
    real = r.clone().requires_grad_(True)
    loss.g_loss(f, real).backward()
    assert bool((real.grad > 0).all())  # G's loss falls as the reals look less real than its samples
    assert not loss.sign_meaningful and LOSSES.canonical("ragan") == "relativistic"


def test_specific_values():
    r, f = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.5])
    torch.testing.assert_close(LOSSES.get("hinge").d_loss(r, f), torch.tensor(0.0 + 0.75))
    torch.testing.assert_close(LOSSES.get("wasserstein").d_loss(r, f), torch.tensor(-0.25 - 2.0))
    torch.testing.assert_close(LOSSES.get("least_squares").d_loss(r, f), torch.tensor(0.5 * 2.0 + 0.5 * 1.125))
    expected = (math.log1p(math.exp(-1)) + math.log1p(math.exp(-3))) / 2 + \
        (math.log1p(math.exp(-1)) + math.log1p(math.exp(0.5))) / 2
    torch.testing.assert_close(LOSSES.get("nonsaturating").d_loss(r, f), torch.tensor(expected, dtype=torch.float32))


def test_label_smoothing_targets_one_minus_s():
    """With target 0.9 the real term is minimised at sigmoid(l) = 0.9, i.e. l = log 9."""
    loss = LOSSES.get("nonsaturating")
    ls = torch.linspace(0.0, 5.0, 501)
    values = torch.stack([loss.d_loss(v.view(1), torch.tensor([-50.0]), smoothing=0.1) for v in ls])
    best = ls[values.argmin()].item()
    assert abs(best - math.log(9)) < 0.02


def _linear_critic(w):
    return lambda x, y=None: x.flatten(1) @ w


@pytest.mark.parametrize("scale,expected", [(1.0, 0.0), (2.0, 1.0), (0.5, 0.25)])
def test_gradient_penalty_of_a_linear_critic(scale, expected):
    """∇D = w everywhere, so GP = (||w|| - 1)²."""
    w = torch.zeros(6)
    w[0] = scale
    real, fake = torch.randn(8, 6), torch.randn(8, 6)
    gp = PENALTIES.get("gradient_penalty")(_linear_critic(w), real, fake, None)
    torch.testing.assert_close(gp, torch.tensor(expected), rtol=1e-5, atol=1e-5)


def test_r1_of_a_linear_critic_and_its_gradient_reaches_weights():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    r1 = PENALTIES.get("r1")(_linear_critic(w), torch.randn(5, 2), torch.randn(5, 2), None)
    torch.testing.assert_close(r1, torch.tensor(12.5))  # ½·||w||² = ½·25
    r1.backward()
    torch.testing.assert_close(w.grad, torch.tensor([3.0, 4.0]))  # d/dw ½||w||² = w


def test_mode_seeking_is_the_inverse_mean_gap_of_consecutive_pairs():
    from gankit.losses import mode_seeking
    fake = torch.zeros(5, 1, 2, 2)
    fake[1] += 0.5  # pair (0, 1) differs by 0.5 everywhere
    fake[3] -= 0.1  # pair (2, 3) by 0.1; sample 4 has no partner and is left out
    fake[4] += 100.0
    assert mode_seeking(fake).item() == pytest.approx(1 / (0.3 + 1e-5), rel=1e-6)
    assert mode_seeking(torch.ones(2, 1, 2, 2)).item() == pytest.approx(1e5, rel=1e-6)  # bounded where they meet
    with pytest.raises(ValueError, match="pairs"):
        mode_seeking(torch.zeros(1, 1, 2, 2))


def test_mode_seeking_pushes_each_pair_apart_and_only_within_pairs():
    from gankit.losses import mode_seeking
    fake = (torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(0)) * 0.1).requires_grad_()
    mode_seeking(fake).backward()
    step = fake.detach() - 0.01 * fake.grad  # one descent step on the term
    gap = lambda x: (x[0::2] - x[1::2]).abs().mean().item()  # noqa: E731
    g = gap(fake.detach())  # each of the 18 differences grows by 2 · 0.01 / (18 g²): the gap by as much
    assert gap(step) == pytest.approx(g + 0.02 / (18 * (g + 1e-5) ** 2), rel=1e-4)
    # the gradient of a pair's two samples is opposite: the pair's mean does not move
    assert (fake.grad[0::2] + fake.grad[1::2]).abs().max().item() < 1e-6


def test_mode_seeking_joins_noise_runs_only():
    from gankit.core.errors import GankitError
    from gankit.losses import g_terms
    from gankit.losses.base import LossConfig
    terms = g_terms(LossConfig(mode_seeking=0.5), paired=False, D=None)
    assert [(name, weight) for name, weight, _ in terms] == [("mode_seeking", 0.5)]
    assert g_terms(LossConfig(), paired=False, D=None) == ()
    with pytest.raises(GankitError, match="noise-to-image"):
        g_terms(LossConfig(mode_seeking=1.0), paired=True, D=None)
