"""Speed features keep the algorithm: reused fakes, bf16 autocast, channels_last; and the bench measures."""
import json

import pytest
import torch

from conftest import tiny_config
from gankit.cli.main import main
from gankit.core.errors import GankitError
from gankit.training import fit, start_run
from gankit.training.bench import matmul_peak, measure_config

DCGAN = {"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": 0, "d_depth": 0}


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
        assert len(row["windows"]) == 2 and row["images_per_sec"] > 0 and row["peak_memory_mib"] > 10
    assert 0.1 < matmul_peak(torch.device("cpu"), n=256, repeats=2) < 1e5


def test_bench_command_prints_json(tmp_path, capsys):
    assert main(["bench", "--presets", "digits_mlp", "--steps", "2", "--repeats", "1", "--json",
                 "--set", "train.batch_size=16"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["preset"] == "digits_mlp" and out["matmul_peak_gflops"] > 0
    assert 0 < out["results"][0]["peak_fraction"] < 1.5
