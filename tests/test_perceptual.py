"""loss.perceptual: SRGAN's content loss in a frozen judge network's features (metrics.perceptual)."""
import pytest
import torch

from conftest import tiny_config
from gankit.core.errors import GankitError
from gankit.losses import LossConfig, g_terms
from gankit.losses.reconstruction import perceptual
from gankit.metrics.perceptual import feature_net


def test_the_term_is_zero_on_the_target_relative_in_scale_and_trains_only_its_input():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU()).requires_grad_(False)
    real = torch.rand(4, 1, 12, 12) * 2 - 1
    fake = (real + 0.3 * torch.randn_like(real)).requires_grad_(True)
    term = perceptual(lambda x: [net(x)])
    loud = perceptual(lambda x: [100 * net(x)])  # features a hundred times larger: the same loss
    assert term(real, real).item() == 0
    value = term(fake, real)
    assert 0.01 < value.item() < 2 and abs(loud(fake, real).item() - value.item()) < 1e-4 * value.item()
    value.backward()
    assert fake.grad.abs().sum() > 0 and all(p.grad is None for p in net.parameters())


def test_the_bundled_classifier_stands_in_for_vgg_on_mnist_like_data_and_stays_frozen():
    net = feature_net("fashion_mnist", channels=1)
    net.train()  # a training loop's .train() must not let its batch norm move
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    maps = net(x)
    assert [tuple(m.shape) for m in maps] == [(3, 32, 28, 28), (3, 64, 14, 14)]
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert torch.equal(net(x)[1], maps[1])
    with pytest.raises(GankitError, match="10 channels"):
        feature_net("moving_mnist", channels=10)


def test_inception_stem_is_the_judge_elsewhere(shared_data):
    net = feature_net("faces", channels=3, data_dir=str(shared_data))
    maps = net(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert [m.shape[1] for m in maps] == [64, 192] and maps[1].shape[-1] == 12


def test_perceptual_is_for_pairs_and_trains_a_pair_run(tmp_path):
    with pytest.raises(GankitError, match="it is for pairs"):
        g_terms(LossConfig(perceptual=1.0), paired=False, D=None)
    from gankit.training import fit, start_run
    cfg = tiny_config(tmp_path, "digits_mlp", data={"name": "lowres:fashion_mnist:2", "holdout": 0},
                      model={"name": "srresnet", "g_width": 8, "g_depth": 1, "d_width": 8, "z_dim": None,
                             "d_depth": None}, loss={"perceptual": 1.0}, train={"steps": 3, "batch_size": 8})
    run = start_run(cfg)
    fit(run, callbacks=[])
    assert run.game.rules.g_terms[-1][0] == "perceptual"
