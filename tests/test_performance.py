"""Speed features keep the algorithm: reused fakes, bf16 autocast, channels_last; and the bench measures."""
import json

import pytest
import torch

from conftest import tiny_config
from gankit.cli.main import main
from gankit.core.errors import GankitError
from gankit.training import fit, start_run
from gankit.training.bench import matmul_peak, measure_config

DCGAN = {"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": None, "d_depth": None}


def _count_forwards(module: torch.nn.Module) -> list:
    calls = []
    module.register_forward_hook(lambda m, args, out: calls.append(out.dtype))
    return calls


@pytest.mark.parametrize("reuse, per_step", [(False, 2), (True, 1)])
def test_reuse_fakes_runs_the_generator_once_per_iteration(tmp_path, reuse, per_step):
    run = start_run(tiny_config(tmp_path, model=DCGAN, train={"reuse_fakes": reuse, "steps": 5}))
    calls = _count_forwards(run.game.G)
    fit(run, callbacks=[])
    assert len(calls) == 5 * per_step


def test_reuse_fakes_needs_one_critic_step(tmp_path):
    # with n_critic = 2 the G step cannot reuse two batches: it draws fresh fakes as before
    run = start_run(tiny_config(tmp_path, model=DCGAN, train={"reuse_fakes": True, "n_critic": 2, "steps": 3}))
    calls = _count_forwards(run.game.G)
    fit(run, callbacks=[])
    assert len(calls) == 3 * 3


def test_bf16_runs_d_and_g_in_bfloat16_and_learns_finitely(tmp_path):
    run = start_run(tiny_config(tmp_path, model=DCGAN, train={"precision": "bf16", "steps": 4}))
    first_conv = next(m for m in run.game.D.modules() if isinstance(m, torch.nn.Conv2d))
    dtypes = _count_forwards(first_conv)
    summary = fit(run, callbacks=[])
    assert set(dtypes) == {torch.bfloat16}
    assert next(run.game.G.parameters()).dtype == torch.float32  # master weights stay fp32
    assert all(torch.isfinite(p).all() for p in run.game.G.parameters())
    assert summary["step"] == 4


def test_channels_last_computes_the_same_function(tmp_path):
    runs = {}
    for layout in (True, False):
        run = start_run(tiny_config(tmp_path / str(layout), model=DCGAN, train={"channels_last": layout, "steps": 3}))
        fit(run, callbacks=[])
        runs[layout] = run
    conv = next(m for m in runs[True].game.G.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    for (name, a), b in zip(runs[True].game.G.state_dict().items(), runs[False].game.G.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-4), name


def test_precision_and_compile_are_validated(tmp_path):
    with pytest.raises(GankitError, match="train.precision must be one of fp32, bf16"):
        tiny_config(tmp_path, train={"precision": "fp16"})
    with pytest.raises(GankitError, match="train.compile must be one of"):
        tiny_config(tmp_path, train={"compile": "fast"})


def test_bench_counts_flops_in_proportion_to_the_batch(tmp_path):
    rows = [measure_config(tiny_config(tmp_path / str(b), train={"batch_size": b}), steps=3, repeats=2, warmup=2)
            for b in (16, 32)]
    assert rows[0]["flops_per_iteration"] > 1e5
    assert rows[1]["flops_per_iteration"] / rows[0]["flops_per_iteration"] == pytest.approx(2.0, rel=0.02)
    for row in rows:
        assert len(row["windows"]) == 2 and 0 < row["images_per_sec"] < 1e6 and 10 < row["peak_memory_mib"] < 1e5
    assert 0.1 < matmul_peak(torch.device("cpu"), n=256, repeats=2) < 1e5


def test_bench_command_prints_json(tmp_path, capsys):
    assert main(["bench", "--presets", "digits_mlp", "--steps", "2", "--repeats", "1", "--json",
                 "--set", "train.batch_size=16"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["preset"] == "digits_mlp" and out["matmul_peak_gflops"] > 0
    assert 0 < out["results"][0]["peak_fraction"] < 1.5


@pytest.mark.slow  # about a minute of compilation on CPU; `gankit bench --set train.compile=default` covers it
def test_compiled_training_keeps_checkpoints_plain(tmp_path):
    from gankit.checkpoint import load_checkpoint

    run = start_run(tiny_config(tmp_path, train={"compile": "default", "steps": 6}))
    assert fit(run)["step"] == 6
    keys = list(load_checkpoint(run.dir)["G"])
    assert keys and not any("_orig_mod" in k for k in keys)  # loadable by an uncompiled model


@pytest.mark.parametrize("size", [(7, 7), (8, 5)])
def test_upsample_conv_is_upsample_then_conv_exactly(size):
    from torch import nn

    from gankit.nn import UpsampleConv

    torch.manual_seed(0)
    fast = UpsampleConv(5, 3)
    slow = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(5, 3, 3, padding=1))
    slow[1].load_state_dict(fast.state_dict())  # same parameters, same keys
    x1 = torch.randn(4, 5, *size, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    a, b = fast(x1), slow(x2)
    assert a.shape == b.shape == (4, 3, 2 * size[0], 2 * size[1])
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(a)
    (a * g).sum().backward()
    (b * g).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast.weight.grad, slow[1].weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(fast.bias.grad, slow[1].bias.grad, atol=1e-4, rtol=1e-4)
