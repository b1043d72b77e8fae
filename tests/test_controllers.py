"""The rate controller: base × schedule × balance × rollback, in one place, saved with the run."""
import json

import pytest
import torch
from conftest import tiny_config

from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.core.errors import GankitError
from gankit.training import fit, resume_run, start_run
from gankit.training.controllers import Rates
from gankit.training.schedules import lr_schedule


def _opt(lr):
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def test_rates_multiply_base_schedule_and_every_factor():
    g, d = _opt(1.0), _opt(1.0)
    rates = Rates({"G": g, "D": d}, {"G": 1e-3, "D": 4e-4}, lr_schedule("linear"))
    rates.set_factor("balance", {"D": 0.25})
    rates.set_factor("rollback", {"G": 0.5, "D": 0.5})
    rates.apply(step=2, total=10)
    assert g.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.8 * 0.5, rel=1e-12)
    assert d.param_groups[0]["lr"] == pytest.approx(4e-4 * 0.8 * 0.25 * 0.5, rel=1e-12)
    again = Rates({"G": g, "D": d}, {"G": 1e-3, "D": 4e-4})
    again.load_state_dict(json.loads(json.dumps(rates.state_dict())))  # plain data
    assert again.factors == rates.factors
    for bad in ({"factors": {"balance": {"D": float("nan")}}}, {"factors": {"x": {"D": -1.0}}}, {"f": 1}, None):
        with pytest.raises(GankitError, match="rates controller state is damaged"):
            again.load_state_dict(bad)


def test_old_optimizer_rates_are_read_back_as_factors():
    g, d = _opt(1e-3 * 0.7 * 0.5), _opt(4e-4 * 0.7 * 0.5 * 0.125)  # as the optimizers held them at step 4
    rates = Rates({"G": g, "D": d}, {"G": 1e-3, "D": 4e-4}, lr_schedule("linear"))
    rates.infer_from_optimizers(step=4, total=10)  # the last step trained was 3: schedule 0.7
    assert rates.factor("G") == pytest.approx(0.5) and rates.factor("D") == pytest.approx(0.0625)
    rates.apply(4, 10)
    assert g.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.6 * 0.5)


def test_rows_carry_the_rates_in_force(tmp_path):
    run = start_run(tiny_config(tmp_path, train={"steps": 6, "lr_decay": "linear", "lr_g": 1e-3, "lr_d": 5e-4}))
    fit(run)
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "event" not in r]
    # the rows at steps 2, 4, 6 hold the rates of the last step they cover: 0-based steps 1, 3, 5
    assert [r["lr_g"] for r in rows] == pytest.approx([1e-3 * (1 - s / 6) for s in (1, 3, 5)], rel=1e-9)
    assert [r["lr_d"] for r in rows] == pytest.approx([5e-4 * (1 - s / 6) for s in (1, 3, 5)], rel=1e-9)


def test_balance_factor_is_saved_and_resumed(tmp_path):
    cfg = tiny_config(tmp_path, health={"balance": True, "warmup": 10, "window": 10, "warmup_fraction": 0.0},
                      train={"steps": 40, "lr_g": 1e-12, "lr_d": 2e-3, "checkpoint_every": 20})
    run = start_run(cfg)
    fit(run, until=20)
    saved = load_checkpoint(run.dir)["controllers"]["rates"]["factors"]
    assert 1 / 64 <= saved["balance"]["D"] < 1  # lowered by the overpowering D, never below the floor
    resumed = resume_run(run.dir, cfg)
    assert resumed.rates.factors == saved
    assert resumed.rates.current("D") == pytest.approx(2e-3 * saved["balance"]["D"])


def test_a_checkpoint_without_controllers_resumes_exactly(tmp_path):
    """Files written before the controller kept the rates only in the optimizers."""
    def config(where):
        return tiny_config(where, train={"steps": 8, "lr_decay": "linear", "lr_decay_start": 0.25,
                                         "checkpoint_every": 4})

    full = start_run(config(tmp_path / "a"))
    fit(full)
    part = start_run(config(tmp_path / "b"))
    fit(part, until=4)
    ckpt = load_checkpoint(part.dir)
    del ckpt["controllers"]
    save_checkpoint(part.dir / "checkpoint.pt", {k: v for k, v in ckpt.items() if not k.startswith("format")})
    resumed = resume_run(part.dir, config(tmp_path / "b"))
    fit(resumed)
    a, b = load_checkpoint(full.dir), load_checkpoint(part.dir)
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert b["controllers"]["rates"]["factors"]["rollback"]["G"] == pytest.approx(1.0, rel=1e-9)
