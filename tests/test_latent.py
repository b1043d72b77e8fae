"""Latent tools: interpolation, arithmetic, directions, truncation, inversion, labels and the Renderer."""
import math

import numpy as np
import pytest
import torch

from gankit.core.errors import GankitError
from gankit.latent.generator import TrainedGenerator
from gankit.latent.groups import build_group, parse_seeds, resolve_label
from gankit.latent.invert import invert
from gankit.latent.render import Renderer
from gankit.latent.space import (Code, apply_direction, direction, evaluate_expression, interpolate, lerp,
                                 parse_expression, seed_latents, slerp, truncate)
from gankit.models import ModelConfig, build_generator, model_kwargs


def _generator(conditional=False, classes=("zero", "one", "two")):
    torch.manual_seed(0)
    kwargs = model_kwargs(ModelConfig(name="dcgan", conditional=conditional, z_dim=8, g_width=8, g_norm="none"),
                          (1, 16, 16), len(classes))
    g = build_generator(kwargs).eval()
    with torch.no_grad():  # DCGAN's N(0, 0.02) init makes near-constant images; spread them for the tests
        for p in g.parameters():
            if p.dim() > 1:
                torch.nn.init.xavier_normal_(p, gain=2.0)
    return TrainedGenerator(g, class_names=tuple(classes), dataset="toy")


def test_lerp_and_slerp_hit_their_endpoints():
    a, b = seed_latents(16, [1]), seed_latents(16, [2])
    for f in (lerp, slerp):
        torch.testing.assert_close(f(a, b, 0.0), a)
        torch.testing.assert_close(f(a, b, 1.0), b, atol=1e-5, rtol=1e-5)


def test_slerp_keeps_the_norm_where_lerp_cuts_inside():
    a, b = seed_latents(64, [1]), seed_latents(64, [2])
    b = b * a.norm() / b.norm()  # equal norms: slerp must stay on the sphere
    mid_s, mid_l = slerp(a, b, 0.5), lerp(a, b, 0.5)
    assert mid_s.norm().item() == pytest.approx(a.norm().item(), rel=1e-5)
    assert mid_l.norm().item() < 0.85 * a.norm().item()  # nearly orthogonal Gaussians: ~1/sqrt(2)


def test_interpolate_walks_through_every_point():
    pts = Code(seed_latents(4, [1, 2, 3]), torch.eye(3))
    path = interpolate(pts, steps=4, mode="lerp")
    assert len(path) == 9
    for i, row in ((0, 0), (4, 1), (8, 2)):
        torch.testing.assert_close(path.z[i], pts.z[row])
        torch.testing.assert_close(path.y[i], pts.y[row])
    torch.testing.assert_close(path.y[2], torch.tensor([0.5, 0.5, 0.0]))  # classes blend linearly
    with pytest.raises(GankitError, match="lerp or slerp"):
        interpolate(pts, 4, "cubic")


def test_arithmetic_is_linear_over_group_means():
    groups = {name: Code(torch.randn(n, 5, generator=torch.Generator().manual_seed(i)))
              for i, (name, n) in enumerate((("glasses_men", 4), ("men", 6), ("women", 3)))}
    out = evaluate_expression("glasses_men - men + women", groups)
    expected = groups["glasses_men"].z.mean(0) - groups["men"].z.mean(0) + groups["women"].z.mean(0)
    torch.testing.assert_close(out.z[0], expected)
    half = evaluate_expression("0.5*men + 0.5 * men", groups)
    torch.testing.assert_close(half.z[0], groups["men"].z.mean(0))
    assert parse_expression("a-b+2*c") == [(1.0, "a"), (-1.0, "b"), (2.0, "c")]
    with pytest.raises(GankitError, match="not a group; groups: glasses_men, men, women"):
        evaluate_expression("men - kids", groups)
    with pytest.raises(GankitError, match="cannot read the expression"):
        parse_expression("men women")


def test_directions_and_truncation():
    pos, neg = Code(torch.ones(3, 4)), Code(torch.zeros(5, 4))
    d = direction(pos, neg)
    moved = apply_direction(Code(torch.zeros(2, 4)), d, torch.tensor([[0.0], [2.0]]))
    torch.testing.assert_close(moved.z, torch.tensor([[0.0] * 4, [2.0] * 4]))
    z = Code(torch.full((2, 4), 3.0))
    torch.testing.assert_close(truncate(z, 0.5).z, torch.full((2, 4), 1.5))
    torch.testing.assert_close(truncate(z, 1.0).z, z.z)


def test_labels_by_name_or_index_and_a_clear_error():
    g = _generator(conditional=True)
    assert resolve_label(g, "two") == 2 and resolve_label(g, "One") == 1 and resolve_label(g, 0) == 0
    with pytest.raises(GankitError, match="known labels: 0=zero, 1=one, 2=two"):
        resolve_label(g, "seven")
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]


def test_conditional_sampling_honours_labels_and_shapes():
    g = _generator(conditional=True)
    r = Renderer(g)
    out = r.sample([1, 2], label="two")
    assert out["error"] is None and out["images"].shape == (2, 16, 16, 1) and out["images"].dtype == np.uint8
    with torch.no_grad():
        direct = g(seed_latents(8, [1, 2]), torch.tensor([2, 2]))
    assert np.array_equal(out["images"], ((direct.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())
    other = r.sample([1, 2], label="zero")["images"]
    assert not np.array_equal(out["images"], other)  # the label changes the output
    grid = r.class_grid([1, 2, 3])
    assert grid["images"].shape == (9, 16, 16, 1) and grid["rows"] == ["zero", "one", "two"]
    bad = r.sample([1], label="seven")
    assert bad["images"] is None and "known labels" in bad["error"]


def test_renderer_interpolates_and_does_arithmetic():
    r = Renderer(_generator())
    walk = r.interpolate([1, 2, 3], steps=5)
    assert walk["error"] is None and walk["images"].shape == (11, 16, 16, 1)
    assert np.array_equal(walk["images"][0], r.sample([1])["images"][0])
    out = r.arithmetic("a - b + c", {"a": "seeds:1,2", "b": "seeds:3", "c": "seeds:4-6"})
    assert out["error"] is None and out["images"].shape == (1, 16, 16, 1)
    assert set(out["groups"]) == {"a", "b", "c"} and out["group_sizes"] == {"a": 2, "b": 1, "c": 3}
    expected = seed_latents(8, [1, 2]).mean(0) - seed_latents(8, [3])[0] + seed_latents(8, [4, 5, 6]).mean(0)
    np.testing.assert_allclose(out["latents"][0], expected.numpy(), rtol=1e-5, atol=1e-6)
    edit = r.edit("seeds:1,2", "seeds:3,4", "seeds:5,6", alphas=[0.0, 1.0, 2.0])
    assert edit["images"].shape == (6, 16, 16, 1)
    assert np.array_equal(edit["images"][0], r.sample([1])["images"][0])  # alpha 0 leaves it alone


def test_class_groups_need_a_conditional_generator_or_a_label():
    g = _generator(conditional=True)
    code = build_group(g, "class:one", n=4)
    assert len(code) == 4 and torch.equal(code.y, torch.tensor([[0.0, 1.0, 0.0]] * 4))
    with pytest.raises(GankitError, match="give the group a class"):
        build_group(g, "seeds:1,2")
    with pytest.raises(GankitError, match="seeds:1,2,3, class:NAME, judge:NAME or npy:PATH"):
        build_group(g, "faces:1")


def test_inversion_lowers_the_reconstruction_error():
    g = _generator()
    target = g(seed_latents(8, [42]), None).detach()  # an image G can make exactly
    start = g(seed_latents(8, [7]), None).detach()
    before = (start - target).pow(2).mean().item()
    code, error = invert(g, target, steps=150, lr=0.05, candidates=8, seed=1)
    assert error.shape == (1,) and error.item() < 0.2 * before
    assert math.isfinite(code.z.norm().item())
    assert all(p.requires_grad for p in g.module.parameters())  # G is given back unfrozen


def test_saved_latents_form_a_group(tmp_path):
    g = _generator()
    np.save(tmp_path / "z.npy", seed_latents(8, [4, 5]).numpy())
    code = build_group(g, f"npy:{tmp_path / 'z.npy'}")
    torch.testing.assert_close(code.z, seed_latents(8, [4, 5]))
    np.save(tmp_path / "bad.npy", np.zeros((2, 3)))
    with pytest.raises(GankitError, match=r"this generator's latents are \[N, 8\]"):
        build_group(g, f"npy:{tmp_path / 'bad.npy'}")
    walk = Renderer(g).interpolate([], steps=3, points=f"npy:{tmp_path / 'z.npy'}")
    assert walk["error"] is None and walk["images"].shape == (4, 16, 16, 1)


class _Step(torch.nn.Module):
    """A 2-D 'generator' that jumps between two modes across z0 = 0 (a tanh ramp 0.1 wide), as G must
    between separate modes; a conditional variant scales class 1's output (and Jacobian) by 10."""

    def __init__(self, num_classes=0):
        super().__init__()
        self.z_dim, self.num_classes, self.w = 2, num_classes, torch.nn.Parameter(torch.ones(()))

    def forward(self, z, y=None):
        out = torch.stack([torch.tanh(10 * z[:, 0]), 0.1 * z[:, 1]], 1) * self.w
        return out if y is None else out * (1 + 9 * (y == 1).float())[:, None]


class _Linear(torch.nn.Module):
    """G(z) = A z: its Jacobian is A at every latent."""

    def __init__(self, A):
        super().__init__()
        self.z_dim, self.num_classes, self.A = A.shape[1], 0, torch.nn.Parameter(A)

    def forward(self, z, y=None):
        return z @ self.A.T


def test_jacobian_norms_exact_and_estimated():
    from gankit.latent.jacobian import jacobian_norms

    A = torch.randn(5, 12, generator=torch.Generator().manual_seed(0))
    linear, z = _Linear(A).eval(), torch.randn(4000, 12)
    exact = jacobian_norms(linear, z, probes=12)
    torch.testing.assert_close(exact, torch.full((4000,), A.norm().item()), rtol=1e-5, atol=1e-5)
    estimate = jacobian_norms(linear, z, probes=4, seed=1).pow(2)  # random probes: unbiased in the square
    assert estimate.mean().item() == pytest.approx(A.norm().item() ** 2, rel=0.05)
    # each probe's |Av|^2 has variance 2 sum(s^4) over A's singular values s; the mean of 4 has a quarter of it
    expected_std = (torch.linalg.svdvals(A).pow(4).sum() / 2).sqrt().item()
    assert estimate.std().item() == pytest.approx(expected_std, rel=0.1)
    step = _Step().eval()
    norms = jacobian_norms(step, torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    torch.testing.assert_close(norms, torch.tensor([(100 + 0.01) ** 0.5, (100 / math.cosh(10) ** 4 + 0.01) ** 0.5]))
    with pytest.raises(GankitError, match="eval mode"):
        jacobian_norms(step.train(), z[:, :2])


def test_jacobian_truncation_drops_the_ramp_between_modes_and_nothing_else():
    from gankit.latent.jacobian import truncated_latents

    step = _Step().eval()
    z = truncated_latents(step, 20000, seed=3, keep=0.8)
    assert z.shape == (20000, 2)
    # the Jacobian falls with |z0| alone, so the kept set is |z0| >= t with P(|z0| < t) = 0.2: t = 0.253
    assert z[:, 0].abs().min().item() == pytest.approx(0.253, abs=0.02)
    assert (z[:, 0].abs() > 1).float().mean().item() == pytest.approx(0.3173 / 0.8, abs=0.015)  # rest untouched
    assert z[:, 1].std().item() == pytest.approx(1.0, abs=0.03)  # the other axis is not truncated at all
    torch.testing.assert_close(truncated_latents(step, 20000, seed=3, keep=0.8), z)  # reproducible
    torch.testing.assert_close(truncated_latents(step, 50, seed=3, keep=1.0),
                               torch.randn(50, 2, generator=torch.Generator().manual_seed(3)))
    for bad in (0.0, 1.5):
        with pytest.raises(GankitError, match=r"in \(0, 1\]"):
            truncated_latents(step, 5, keep=bad)


def test_jacobian_truncation_thresholds_each_class_on_its_own():
    from gankit.latent.jacobian import truncated_latents

    step = _Step(num_classes=2).eval()  # class 1's Jacobian is 10x class 0's everywhere
    labels = torch.tensor([0, 1] * 2000)
    z = truncated_latents(step, 4000, seed=0, keep=0.8, labels=labels)
    for c in (0, 1):  # one threshold for both would reject every class-1 draw; per class, both keep 80%
        assert z[labels == c, 0].abs().min().item() == pytest.approx(0.253, abs=0.03)


def test_a_seeds_image_is_the_first_sample_of_that_seed():
    """The two seed conventions meet: the explorer's image of seed s is `gankit sample --seed s`'s first."""
    from gankit.core.images import to_uint8
    from gankit.latent.sample import sample

    g = _generator()
    for psi in (1.0, 0.7):
        first = sample(g, 5, seed=11, psi=psi)[:1]
        assert np.array_equal(to_uint8(first), Renderer(g).sample([11], psi=psi)["images"])
