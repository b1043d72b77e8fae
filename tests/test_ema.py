"""The EMA generator's own batch-norm statistics (train.ema_bn=standing)."""
import pytest
import torch
from conftest import tiny_config
from torch import nn

from gankit.checkpoint import load_checkpoint
from gankit.core.errors import GankitError
from gankit.training import fit, start_run
from gankit.training.ema import EMA, STANDING_BATCHES


class Tiny(nn.Module):
    """z -> linear -> batch norm: the simplest G whose average and copied statistics disagree."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)

    def forward(self, z, y=None):
        return self.norm(self.lin(z))


def _inputs(n, gen):
    return torch.randn(n, 3, generator=gen), None


def test_standing_statistics_are_the_averaged_g_own_and_recomputed_only_when_it_moves():
    torch.manual_seed(0)
    G = Tiny()
    ema = EMA(G, decay=0.5, inputs=_inputs, batch_size=8)
    G.train()
    with torch.no_grad():
        G(torch.randn(64, 3) * 5 + 2)  # G's running statistics: of other inputs altogether
        G.lin.weight.mul_(3)
    ema.update(G, step=100)  # half way to G's weights; G's statistics copied
    assert torch.equal(ema.model.norm.running_mean, G.norm.running_mean)
    net = ema.ready()
    gen = torch.Generator().manual_seed(0)  # what ready() drew: STANDING_BATCHES batches of 8
    batches = [ema.model.lin(_inputs(8, gen)[0]) for _ in range(STANDING_BATCHES)]
    want_mean = torch.stack([b.mean(0) for b in batches]).mean(0)
    want_var = torch.stack([b.var(0) for b in batches]).mean(0)  # unbiased per batch, as BN keeps it
    torch.testing.assert_close(net.norm.running_mean, want_mean, atol=1e-6, rtol=0)
    torch.testing.assert_close(net.norm.running_var, want_var, atol=1e-6, rtol=1e-5)
    assert not net.training and net.norm.momentum == 0.1  # back to eval, its momentum restored
    # the averaged G's eval outputs are now normalised: mean near 0, spread near 1 on fresh latents
    with torch.no_grad():
        out = net(torch.randn(4000, 3, generator=torch.Generator().manual_seed(1)))
    assert out.mean(0).abs().max() < 0.1 and (out.std(0) - 1).abs().max() < 0.1
    before = net.norm.running_mean.clone()
    G.norm.running_mean.fill_(7.0)
    assert torch.equal(ema.ready().norm.running_mean, before)  # no update since: not recomputed
    ema.update(G, step=101)
    assert not torch.equal(ema.ready().norm.running_mean, before)


def test_copied_statistics_stay_the_default():
    G = Tiny()
    ema = EMA(G, decay=0.5)
    G.train()
    with torch.no_grad():
        G(torch.randn(64, 3) + 5)
    ema.update(G, step=10)
    assert torch.equal(ema.ready().norm.running_mean, G.norm.running_mean)


def _dcgan(tmp_path, **train):
    return tiny_config(tmp_path, "digits_mlp", model={"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": None,
                                                      "d_depth": None, "conditional": True},
                       train={"ema_decay": 0.9, **train})


def test_a_standing_run_saves_its_own_statistics_and_paired_runs_refuse_it(tmp_path):
    run = start_run(_dcgan(tmp_path / "a", ema_bn="standing"))
    fit(run)
    ckpt = load_checkpoint(run.dir)
    G_stats = {k: v for k, v in ckpt["G"].items() if "running_mean" in k}
    ema_stats = {k: ckpt["G_ema"][k] for k in G_stats}
    assert G_stats and all(not torch.equal(G_stats[k], ema_stats[k]) for k in G_stats)
    copied = start_run(_dcgan(tmp_path / "b"))
    fit(copied)
    ckpt = load_checkpoint(copied.dir)
    assert all(torch.equal(ckpt["G"][k], ckpt["G_ema"][k]) for k in G_stats)
    with pytest.raises(GankitError, match="train.ema_bn must be one of copy, standing"):
        _dcgan(tmp_path / "c", ema_bn="own")
    paired = tiny_config(tmp_path / "d", "digits_mlp",
                         data={"name": "lowres:digits:2", "resolution": 16},
                         model={"name": "srresnet", "g_width": 8, "d_width": 8, "z_dim": None, "g_depth": 1,
                                "d_depth": None},
                         train={"ema_decay": 0.9, "ema_bn": "standing"})
    with pytest.raises(GankitError, match="train.ema_bn=standing draws G's inputs afresh"):
        start_run(paired)
