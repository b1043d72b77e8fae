"""Contracts every registered architecture must keep, conditional and not."""
import pytest
import torch

from conftest import tiny_config

from gankit.core.errors import GankitError
from gankit.models import MODELS, ModelConfig, build_discriminator, build_generator, check_kwargs, model_kwargs
from gankit.models import mlp

SHAPES = {"mlp": [(1, 8, 8), (2,)], "dcgan": [(1, 28, 28), (3, 32, 32)], "resnet_sn": [(1, 28, 28), (3, 32, 32)],
          "fastgan": [(1, 16, 16), (3, 32, 32)]}
# the families drawn from noise (and labels); the image-to-image ones (paired) keep their own contract below
LABELLED = [name for name in MODELS.names() if not MODELS.get(name).paired and not MODELS.get(name).semi_supervised]
# semi-supervised families: D classifies the data's classes, G is asked for none
SEMI = {"ssgan": [(1, 28, 28), (3, 16, 16)]}
# (image shape, source shape, patches P): one stride-2 layer (the default at these sizes) halves the side,
# the two stride-1 4x4 convolutions take one pixel each, so P = (side / 2 - 2)^2
PAIRED = {"pix2pix": [((1, 32, 32), (1, 32, 32), 196), ((3, 64, 64), (3, 16, 16), 900)],
          "srresnet": [((1, 28, 28), (1, 7, 7), 144), ((3, 32, 32), (3, 16, 16), 196)],
          # frames stacked as channels: 10 → 10 at 64 px, 5 → 5 at 32, and RGB frames 2 → 3 at 16
          "simvp": [((10, 64, 64), (10, 64, 64), 900), ((5, 32, 32), (5, 32, 32), 196), ((9, 16, 16), (6, 16, 16), 36)]}
CASES = [(name, shape, classes) for name in LABELLED for shape in SHAPES[name] for classes in (0, 10)]


def _kwargs(name, shape, classes):
    cfg = ModelConfig(name=name, conditional=classes > 0, z_dim=8, g_width=16, d_width=16)
    return model_kwargs(cfg, shape, classes)


@pytest.mark.parametrize("name,shape,classes", CASES)
def test_shapes_and_ranges(name, shape, classes):
    torch.manual_seed(0)
    kw = _kwargs(name, shape, classes)
    G, D = build_generator(kw), build_discriminator(kw)
    z = torch.randn(5, 8)
    y = torch.randint(classes, (5,)) if classes else None
    x = G(z, y)
    assert x.shape == (5, *shape) and x.dtype == torch.float32
    if len(shape) == 3:  # images live in [-1, 1]
        assert x.min() >= -1 and x.max() <= 1
    logits = D(x, y)
    assert logits.shape == (5,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name,shape,classes", CASES)
def test_generator_round_trips_through_its_kwargs(name, shape, classes):
    torch.manual_seed(0)
    kw = _kwargs(name, shape, classes)
    G = build_generator(kw).eval()
    G2 = build_generator(kw).eval()
    G2.load_state_dict(G.state_dict())
    z = torch.randn(4, 8)
    y = torch.arange(4) % classes if classes else None
    torch.testing.assert_close(G(z, y), G2(z, y), rtol=0, atol=0)


def test_every_family_has_its_contract_cases():
    assert set(MODELS.names()) == set(SHAPES) | set(PAIRED) | set(SEMI)


@pytest.mark.parametrize("name,shape", [(n, shape) for n, shapes in SEMI.items() for shape in shapes])
def test_semi_supervised_d_classifies_and_its_real_logit_is_the_logsumexp(name, shape):
    from gankit.models import use_stream
    from gankit.nn import scores

    torch.manual_seed(0)
    kw = model_kwargs(ModelConfig(name=name, z_dim=8, g_width=16, d_width=32), shape, 10)
    assert kw["G"]["num_classes"] == 0 and kw["D"]["num_classes"] == 10
    G, D = build_generator(kw), build_discriminator(kw).eval()
    x = G(torch.randn(5, 8))
    assert x.shape == (5, *shape) and -1 <= x.min() and x.max() <= 1
    logits, classes = scores(D, x, None)
    assert logits.shape == (5,) and classes.shape == (5, 10)
    torch.testing.assert_close(logits, torch.logsumexp(classes, 1))
    torch.testing.assert_close(D(x), D(x), rtol=0, atol=0)  # no noise in eval mode
    D.train()
    use_stream(D, torch.Generator().manual_seed(3))
    first = D(x)
    use_stream(D, torch.Generator().manual_seed(3))
    assert torch.equal(first, D(x)) and not torch.equal(first, D(x))  # its noise comes from the stream alone
    with pytest.raises(GankitError, match="semi-supervised"):
        model_kwargs(ModelConfig(name=name, conditional=True), shape, 10)
    with pytest.raises(GankitError, match="semi-supervised"):
        model_kwargs(ModelConfig(name=name), shape, 0)


@pytest.mark.parametrize("name,shape,source,patches", [(n, *case) for n, cases in PAIRED.items() for case in cases])
def test_paired_families_turn_a_source_into_an_image_judged_per_patch(name, shape, source, patches):
    torch.manual_seed(0)
    kw = model_kwargs(ModelConfig(name=name, g_width=8, d_width=8), shape, 0, source_shape=source)
    G, D = build_generator(kw).eval(), build_discriminator(kw)
    y = torch.rand(3, *source) * 2 - 1
    x = G(torch.randn(3, G.z_dim), y)
    assert x.shape == (3, *shape) and -1 <= x.min() and x.max() <= 1
    logits = D(x, y)
    assert logits.shape == (3, patches) and torch.isfinite(logits).all()
    G2 = build_generator(check_kwargs(kw)).eval()
    G2.load_state_dict(G.state_dict())
    torch.testing.assert_close(G2(torch.zeros(3, G.z_dim), y), G(torch.zeros(3, G.z_dim), y), rtol=0, atol=0)


@pytest.mark.parametrize("name", LABELLED)
def test_conditioning_changes_the_output(name):
    torch.manual_seed(0)
    shape = SHAPES[name][0]
    G = build_generator(_kwargs(name, shape, 10))
    G.train()  # batch statistics: conditional BN's per-class gain/bias (init 1/0) differ after a nudge
    for p in G.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    G.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    out = G(z, torch.tensor([0, 1]))
    assert (out[0] - out[1]).abs().max() > 1e-4


@pytest.mark.parametrize("name", LABELLED)
def test_conditional_models_demand_labels(name):
    kw = _kwargs(name, SHAPES[name][0], 10)
    with pytest.raises(ValueError, match="needs labels"):
        build_generator(kw)(torch.randn(2, 8), None)


def test_discriminator_can_learn_the_sign_convention():
    """A few steps of D's nonsaturating loss push real logits positive and fake logits negative."""
    from gankit.losses import LOSSES

    torch.manual_seed(0)
    kw = _kwargs("dcgan", (1, 28, 28), 0)
    D = build_discriminator(kw)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    real = torch.rand(16, 1, 28, 28) * 0.2 + 0.5
    fake = torch.rand(16, 1, 28, 28) * 0.2 - 0.7
    for _ in range(20):
        loss = LOSSES.get("nonsaturating").d_loss(D(real), D(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (D(real) > 0).all() and (D(fake) < 0).all()


def test_unknown_option_and_bad_resolution_are_clear():
    with pytest.raises(GankitError, match="model dcgan has no option model.g_depth"):
        model_kwargs(ModelConfig(name="dcgan", g_depth=3), (1, 28, 28), 0)
    with pytest.raises(GankitError, match="resolution 30"):
        build_generator(model_kwargs(ModelConfig(name="dcgan"), (1, 30, 30), 0))
    with pytest.raises(GankitError, match="use --model mlp for 2-D points"):
        build_generator(model_kwargs(ModelConfig(name="dcgan"), (2,), 0))
    with pytest.raises(GankitError, match="discriminator norm must be one of"):
        build_discriminator(model_kwargs(ModelConfig(name="dcgan", d_norm="weird"), (1, 28, 28), 0))


@pytest.mark.parametrize("resolution,expected", [(8, (4, 1)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4))])
def test_dcgan_stages(resolution, expected):
    from gankit.nn import stages

    assert stages(resolution) == expected


def test_spectral_norm_bounds_the_discriminator_weights():
    torch.manual_seed(0)
    kw = model_kwargs(ModelConfig(name="resnet_sn", d_width=16), (3, 32, 32), 0)
    D = build_discriminator(kw).train()
    x = torch.randn(4, 3, 32, 32)
    for _ in range(30):  # power iterations converge during forward passes
        D(x)
    conv = D.blocks[0].conv1
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert 0.9 < sigma.item() < 1.1


@pytest.mark.parametrize("name", ["mlp", "dcgan"])
def test_projection_term_starts_at_the_heads_scale(name):
    """The class embedding is initialised like the linear head, so conditional logits start as small as
    unconditional ones (an N(0, 1) embedding over 6,272 DCGAN features gave logits in the tens)."""
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28) * 2 - 1
    scale = {}
    for classes in (0, 10):
        D = build_discriminator(model_kwargs(ModelConfig(name=name, conditional=classes > 0), (1, 28, 28), classes))
        y = torch.randint(10, (64,)) if classes else None
        scale[classes] = D(x, y).abs().max().item()
    assert 0 < scale[10] < 3 * scale[0] + 0.5


@pytest.mark.parametrize("name", LABELLED)
def test_acgan_heads_classify_and_ignore_labels_in_the_logit(name):
    from gankit.nn import scores

    torch.manual_seed(0)
    shape = SHAPES[name][0]
    cfg = ModelConfig(name=name, conditional=True, z_dim=8, g_width=16, d_width=16, d_cond="acgan")
    D = build_discriminator(model_kwargs(cfg, shape, 10)).eval()
    x = torch.randn(4, *shape)
    logits, classes = scores(D, x, torch.tensor([0, 1, 2, 3]))
    assert logits.shape == (4,) and classes.shape == (4, 10)
    torch.testing.assert_close(logits, D(x, torch.tensor([9, 9, 9, 9])))  # the label does not enter the logit
    plain = build_discriminator(_kwargs(name, shape, 10))
    assert scores(plain, x, torch.tensor([0, 1, 2, 3]))[1] is None  # projection heads have no classifier


def test_a_projection_aux_head_projects_the_label_and_classifies_packs():
    from gankit.nn import scores

    torch.manual_seed(0)
    cfg = ModelConfig(name="dcgan", conditional=True, z_dim=8, g_width=16, d_width=16, d_cond="projection_aux",
                      pack=2)
    cfg.validate()
    D = build_discriminator(model_kwargs(cfg, (1, 28, 28), 10)).eval()
    x = torch.randn(6, 1, 28, 28)
    y = torch.tensor([0, 0, 4, 4, 7, 7])
    logits, classes = scores(D, x, y)
    assert logits.shape == (3,) and classes.shape == (3, 10)  # one row per pack of one class
    assert not torch.allclose(logits, D(x, torch.tensor([9, 9, 9, 9, 9, 9])))  # the label enters the logit
    assert not D.head.classifies  # a pack's class is no single image's: not a classifier of images
    single = ModelConfig(name="dcgan", conditional=True, z_dim=8, g_width=16, d_width=16, d_cond="projection_aux")
    assert build_discriminator(model_kwargs(single, (1, 28, 28), 10)).head.classifies


@pytest.mark.parametrize("name", LABELLED)
def test_a_packed_discriminator_judges_groups_of_samples(name):
    torch.manual_seed(0)
    shape = SHAPES[name][0]
    cfg = ModelConfig(name=name, z_dim=8, g_width=16, d_width=16, pack=2)
    D = build_discriminator(model_kwargs(cfg, shape, 0)).eval()
    x = torch.randn(6, *shape)
    out = D(x)
    assert out.shape == (3,)
    swapped = x.clone()
    swapped[[0, 1]] = x[[1, 0]]  # the same pair in the other order is another input, a different pair is too
    assert torch.allclose(D(swapped)[1:], out[1:]) and not torch.allclose(D(swapped)[:1], out[:1])
    with pytest.raises(ValueError, match="multiple of 2"):
        D(torch.randn(5, *shape))


def test_dcgan_class_batch_norm_conditions_every_layer():
    from gankit.models import dcgan
    from gankit.nn import ConditionalBatchNorm2d

    torch.manual_seed(0)
    G = dcgan.Generator((1, 28, 28), z_dim=8, num_classes=3, width=8, norm="class_batch")
    cbn = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(cbn) == 2  # 28 = 7 · 2²: a norm after the projection and after the first upsampling
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    G(torch.randn(6, 8), y).square().mean().backward()
    assert all(float(m.gain.weight.grad[:3].abs().sum()) > 0 for m in cbn)  # every class's scale learns
    # unconditional, it is plain batch norm: the same weights as norm="batch"
    plain = dcgan.Generator((1, 28, 28), z_dim=8, width=8, norm="class_batch")
    assert plain.state_dict().keys() == dcgan.Generator((1, 28, 28), z_dim=8, width=8).state_dict().keys()


class _WideGenerator(mlp.Generator):
    """A family with an option of its own (as a new architecture would have)."""

    def __init__(self, shape, z_dim=100, num_classes=0, width=128, depth=4, norm="batch", skip: int = 0):
        super().__init__(shape, z_dim, num_classes, width, depth, norm)
        self.skip = skip


def test_a_family_option_needs_no_new_config_field(tmp_path, monkeypatch):
    from gankit.models import Family

    monkeypatch.setitem(MODELS._items, "wide", Family(_WideGenerator, mlp.Discriminator))
    cfg = tiny_config(tmp_path, model={"name": "wide", "g": {"skip": 3}})
    kwargs = model_kwargs(cfg.model, (1, 8, 8), 0)
    assert kwargs["G"]["skip"] == 3 and build_generator(kwargs).skip == 3
    assert check_kwargs(kwargs) == kwargs  # saved and read back like any other option
    for model, message in (({"g": {"skip": "x"}}, "model.g.skip must be a int"),
                           ({"g": {"width": 4}}, "model.g.width is not a family option: it comes from model.g_width"),
                           ({"d": {"skip": 1}}, "model wide has no option model.d.skip"),
                           ({"d": {"shape": [1]}}, "model.d.shape is not a family option: it comes from the data")):
        with pytest.raises(GankitError, match=message):
            tiny_config(tmp_path, model={"name": "wide", **model})
