import pytest

from gankit.core.config import from_dict, parse_override
from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.models import MODELS
from gankit.training import PRESETS, RunConfig, default_preset, resolve


def test_unknown_name_suggests_the_closest():
    with pytest.raises(GankitError, match=r"unknown model 'dcgna'\. Did you mean 'dcgan'\?"):
        MODELS.get("dcgna")


def test_aliases_resolve_to_canonical_names():
    reg = Registry("thing")
    reg.add("alpha", 1, aliases=("a",))
    assert reg.get("a") == 1 and reg.canonical("a") == "alpha"
    with pytest.raises(ValueError):
        reg.add("a", 2)


def test_override_parses_types():
    assert parse_override("train.n_critic=5") == {"train": {"n_critic": 5}}
    assert parse_override("loss.name=hinge") == {"loss": {"name": "hinge"}}
    assert parse_override("train.lr_d=1e-4") == {"train": {"lr_d": 1e-4}}


def test_unknown_keys_and_wrong_types_are_rejected():
    with pytest.raises(GankitError, match="unknown config key train.n_critics"):
        resolve(None, [{"train": {"n_critics": 5}}])
    with pytest.raises(GankitError, match="train.steps must be int"):
        resolve(None, [{"train": {"steps": "many"}}])
    with pytest.raises(GankitError, match="train.steps must be int"):
        resolve(None, [{"train": {"steps": True}}])
    with pytest.raises(GankitError, match="must be positive"):
        resolve(None, [{"train": {"lr_d": 0}}])
    with pytest.raises(GankitError, match="label smoothing applies"):
        resolve(None, [{"loss": {"name": "hinge", "label_smoothing": 0.1}}])


def test_int_is_accepted_for_float_fields():
    cfg = from_dict(RunConfig, {"train": {"lr_g": 1}})
    assert cfg.train.lr_g == 1.0 and isinstance(cfg.train.lr_g, float)


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_preset_resolves_and_is_small(name):
    from gankit.training.config import load_preset

    raw = load_preset(name)
    assert 3 <= sum(len(v) if isinstance(v, dict) else 1 for v in raw.values()) <= 25
    cfg = resolve(name, [])
    assert cfg.preset == name and cfg.model.name in MODELS


def test_default_preset_follows_data_and_model():
    assert default_preset(None, None) == "digits_mlp"
    assert default_preset("mnist", "dcgan") == "mnist_dcgan"
    assert default_preset("mnist", None) == "mnist_dcgan"
    assert default_preset("fashion", "dcgan") == "fashion_dcgan"
    assert default_preset("toy_ring", None) == "toy_ring"
    assert default_preset("mnist", "resnet_sn") is None


def test_a_presets_packs_stay_with_a_conditional_model_and_yield_to_an_acgan_one():
    assert resolve("stacked_mnist_pacdcgan", []).model.pack == 2
    cfg = resolve("stacked_mnist_pacdcgan", [{"model": {"conditional": True}}])
    assert cfg.model.conditional and cfg.model.pack == 2  # packs of one class (the sampler groups them)
    cfg = resolve("stacked_mnist_pacdcgan", [{"model": {"conditional": True, "d_cond": "acgan"}}])
    assert cfg.model.pack == 1
    with pytest.raises(GankitError, match="an AC-GAN D classifies single images"):  # both asked for: refused
        resolve("stacked_mnist_pacdcgan", [{"model": {"conditional": True, "d_cond": "acgan"}}, {"model": {"pack": 4}}])
    assert resolve("stacked_mnist_pacdcgan", [{"model": {"pack": 4}}]).model.pack == 4
