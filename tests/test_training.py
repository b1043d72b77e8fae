"""The training loop: exact resume, what a run leaves behind, and real learning on MNIST."""
import copy
import json

import pytest
import torch
from conftest import tiny_config

from gankit.checkpoint import load_checkpoint
from gankit.core.errors import GankitError
from gankit.data import DataConfig, load_dataset
from gankit.latent import load_generator, sample
from gankit.nn import scores
from gankit.training import fit, resume_run, start_run
from gankit.training.callbacks import MetricsLog
from gankit.training.schedules import top_k_share
from gankit.training.hooks import Callback
from gankit.training.steps import g_step

VARIANTS = {
    "mlp_ema": ("digits_mlp", {}),
    "mlp_lr_decay": ("digits_mlp", {"train": {"lr_decay": "linear", "lr_decay_start": 0.25}}),
    "mlp_topk": ("digits_mlp", {"train": {"topk": 0.5, "topk_steps": 4}}),
    "dcgan_ncritic_noise": ("digits_mlp", {"model": {"name": "dcgan", "g_width": 8, "d_width": 8,
                                                     "g_depth": None, "d_depth": None},
                                           "train": {"n_critic": 2, "instance_noise": 0.1, "ema_decay": 0.9,
                                                     "d_pretrain_steps": 2}}),
    "wgan_gp_conditional": ("digits_mlp", {"model": {"conditional": True},
                                           "loss": {"name": "wasserstein", "penalty": "gradient_penalty"}}),
    "dcgan_acgan": ("digits_mlp", {"model": {"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": None,
                                             "d_depth": None, "conditional": True, "d_cond": "acgan"}}),
    "dcgan_projection_aux_pack": ("digits_mlp", {"model": {"name": "dcgan", "g_width": 8, "d_width": 8,
                                                           "g_depth": None, "d_depth": None, "conditional": True,
                                                           "d_cond": "projection_aux", "pack": 2}}),
    "dcgan_ema_standing": ("digits_mlp", {"model": {"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": None,
                                                    "d_depth": None, "conditional": True},
                                          "train": {"ema_decay": 0.9, "ema_bn": "standing"}}),
    "dcgan_pack_mode_seeking": ("digits_mlp", {"model": {"name": "dcgan", "g_width": 8, "d_width": 8,
                                                         "g_depth": None, "d_depth": None, "conditional": True,
                                                         "pack": 2},
                                               "loss": {"mode_seeking": 1.0}, "train": {"reuse_fakes": True}}),
    "dcgan_reuse_bf16": ("digits_mlp", {"model": {"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": None,
                                                  "d_depth": None},
                                        "train": {"reuse_fakes": True, "precision": "bf16"}}),
    "mlp_ada": ("digits_mlp", {"augment": {"name": "ada", "p": 0.2, "interval": 3, "speed_kimg": 1.0}}),
    "dcgan_diffaugment_r1": ("digits_mlp", {"model": {"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": None,
                                                      "d_depth": None},
                                            "augment": {"name": "diffaugment"},
                                            "loss": {"penalty": "r1", "penalty_weight": 1.0}}),
    "fastgan_diffaugment": ("digits_mlp", {"data": {"resolution": 16},
                                           "model": {"name": "fastgan", "g_width": 8, "d_width": 8, "g_depth": None,
                                                     "d_depth": None},
                                           "augment": {"name": "diffaugment"}}),
    "pix2pix_edges_ada": ("digits_mlp", {"data": {"name": "edges:digits", "resolution": 16},
                                         "model": {"name": "pix2pix", "g_width": 8, "d_width": 8, "z_dim": 4,
                                                   "g_depth": None, "d_depth": None},
                                         "augment": {"name": "ada", "p": 0.3, "interval": 3, "speed_kimg": 1.0}}),
    "srresnet_relativistic_diffaugment": ("digits_mlp", {"data": {"name": "lowres:digits:2", "resolution": 16},
                                                         "model": {"name": "srresnet", "g_width": 8, "d_width": 8,
                                                                   "z_dim": None, "g_depth": 1, "d_depth": None},
                                                         "augment": {"name": "diffaugment"},
                                                         "loss": {"name": "relativistic"}}),
    "srresnet_lowres_diffaugment": ("digits_mlp", {"data": {"name": "lowres:digits:2", "resolution": 16},
                                                   "model": {"name": "srresnet", "g_width": 8, "d_width": 8,
                                                             "z_dim": None, "g_depth": 2, "d_depth": None},
                                                   "augment": {"name": "diffaugment"}}),
    "ssgan_few_labels": ("digits_mlp", {"data": {"labeled_per_class": 3},
                                        "model": {"name": "ssgan", "g_width": 16, "d_width": 32, "z_dim": 8,
                                                  "g_depth": 1, "d_depth": 3},
                                        "loss": {"adversarial": 0.0, "feature_matching": 1.0},
                                        "train": {"batch_size": 16}}),
    "simvp_frames_gdl": ("digits_mlp", {"data": {"name": "moving_digits", "clips": 40},
                                        "model": {"name": "simvp", "g_width": 8, "d_width": 8, "z_dim": 4,
                                                  "g_depth": 1, "d_depth": None, "d_norm": "spectral"},
                                        "loss": {"l1": 0.0, "l2": 10.0, "gdl": 10.0},
                                        "train": {"batch_size": 8}}),
    "simvp_frames_stream": ("digits_mlp", {"data": {"name": "moving_digits", "clips": 40, "stream": True},
                                           "model": {"name": "simvp", "g_width": 8, "d_width": 8, "z_dim": 4,
                                                     "g_depth": 1, "d_depth": None},
                                           "loss": {"l1": 0.0, "l2": 10.0, "gdl": 10.0},
                                           "train": {"batch_size": 8}}),
    "resnet_hinge_r1": ("digits_mlp", {"model": {"name": "resnet_sn", "g_width": 8, "d_width": 8,
                                                 "g_depth": None, "d_depth": None},
                                       "loss": {"name": "hinge", "penalty": "r1", "penalty_weight": 1.0}}),
}


def _train(cfg):
    return fit(start_run(cfg), callbacks=[])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resume_is_bit_identical(tmp_path, variant):
    preset, extra = VARIANTS[variant]

    def config(where, steps):
        return tiny_config(where, preset, **{**extra, "train": {**extra.get("train", {}), "steps": steps}})

    full = config(tmp_path / "a", 8)
    run_a = start_run(full)
    fit(run_a)
    run_b = start_run(config(tmp_path / "b", 8))
    fit(run_b, until=4)  # stopped halfway, as by a kill right after a checkpoint
    resumed = resume_run(run_b.dir, full)
    assert resumed.step == 4
    fit(resumed)
    a, b = load_checkpoint(run_a.dir), load_checkpoint(run_b.dir)
    assert a["step"] == b["step"] == 8
    for part in ("G", "D", "G_ema"):
        if a[part] is None:
            continue
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resume"
    assert a["opt_D"]["state"][0]["exp_avg_sq"].equal(b["opt_D"]["state"][0]["exp_avg_sq"])
    rows = [json.loads(line) for line in (run_b.dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6, 8]


def _rates_seen(cfg) -> tuple[list[float], object]:
    run = start_run(cfg)
    seen = []

    class Rates(Callback):
        def on_step(self, run, stats):
            seen.append(run.game.opt_G.param_groups[0]["lr"])

    fit(run, callbacks=[Rates()])
    return seen, run


def test_linear_lr_decay_reaches_the_last_step_at_one_step_of_rate(tmp_path):
    seen, run = _rates_seen(tiny_config(tmp_path, train={"steps": 10, "lr_decay": "linear", "lr_g": 1e-3,
                                                         "lr_d": 4e-4}))
    # the rate used at step s (0-based) is lr * (1 - s/10): 1e-3 at the first step, 1e-4 at the last
    assert seen == pytest.approx([1e-3 * (1 - s / 10) for s in range(10)], rel=1e-9)
    assert run.game.opt_D.param_groups[0]["lr"] == pytest.approx(4e-5, rel=1e-9)
    with pytest.raises(GankitError, match="lr_decay.*linear"):
        tiny_config(tmp_path, train={"lr_decay": "lineer"})


def test_a_late_lr_decay_keeps_the_rates_until_it_starts(tmp_path):
    seen, run = _rates_seen(tiny_config(tmp_path / "a", train={"steps": 10, "lr_decay": "linear",
                                                               "lr_decay_start": 0.6, "lr_g": 1e-3}))
    # constant for the first 6 steps, then 1e-3 * (1 - k/4) over the last 4
    assert seen == pytest.approx([1e-3] * 6 + [1e-3 * (1 - k / 4) for k in range(4)], rel=1e-9)
    for bad in (-0.1, 1.0):
        with pytest.raises(GankitError, match=r"lr_decay_start must be in \[0, 1\)"):
            tiny_config(tmp_path / "b", train={"lr_decay_start": bad})


def test_top_k_update_trains_g_on_the_best_scored_fakes_only(tmp_path):
    run = start_run(tiny_config(tmp_path, train={"batch_size": 16}))
    game = run.game
    twin = copy.deepcopy(game.G)
    z = torch.randn(16, game.z_dim, generator=torch.Generator().manual_seed(1))
    g_step(game, 16, None, run.device, 0, fake=game.G(z, None), keep=0.25)
    logits = scores(game.D, twin(z, None), None)[0]
    game.rules.loss.g_loss(logits.topk(4).values).backward()  # 4 = a quarter of 16
    for mine, theirs in zip(game.G.parameters(), twin.parameters()):
        torch.testing.assert_close(mine.grad, theirs.grad)
    full = copy.deepcopy(twin)
    for p in full.parameters():
        p.grad = None
    game.rules.loss.g_loss(scores(game.D, full(z, None), None)[0]).backward()
    assert not all(torch.allclose(a.grad, b.grad) for a, b in zip(twin.parameters(), full.parameters()))


def test_top_k_share_anneals_from_the_whole_batch(tmp_path):
    assert [top_k_share(0.5, 4, s) for s in range(6)] == pytest.approx([1.0, 0.875, 0.75, 0.625, 0.5, 0.5])
    assert top_k_share(0.6, 0, 0) == top_k_share(0.6, 0, 9) == 0.6
    assert top_k_share(1.0, 100, 3) == 1.0
    for bad in (0.0, 1.5):
        with pytest.raises(GankitError, match="train.topk"):
            tiny_config(tmp_path, train={"topk": bad})


def test_run_directory_contents(tmp_path):
    cfg = tiny_config(tmp_path)
    run = start_run(cfg)
    summary = fit(run)
    names = {p.name for p in run.dir.iterdir()}
    assert {"config.json", "metrics.jsonl", "samples", "checkpoint.pt", "final.png"} <= names
    assert sorted(p.name for p in (run.dir / "samples").iterdir()) == ["step_000000.png", "step_000003.png",
                                                                  "step_000006.png"]
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "p_real", "p_fake", "acc_real", "acc_fake",
                "images_per_sec"):
        assert key in rows[-1]
    assert 0 <= rows[-1]["acc_real"] <= 1 and summary["step"] == 6
    assert json.loads((run.dir / "config.json").read_text())["train"]["steps"] == 6


def test_resume_refuses_another_architecture_and_keeps_files(tmp_path):
    cfg = tiny_config(tmp_path)
    run = start_run(cfg)
    fit(run)
    before = {p.name: p.stat().st_mtime_ns for p in run.dir.iterdir()}
    other = tiny_config(tmp_path, model={"g_width": 32}, train={"steps": 12})
    with pytest.raises(GankitError, match="width=16 but this run asks for 32"):
        resume_run(run.dir, other)
    with pytest.raises(GankitError, match="already finished 6 steps"):
        resume_run(run.dir, cfg)
    assert before == {p.name: p.stat().st_mtime_ns for p in run.dir.iterdir()}


def test_load_generator_rebuilds_from_the_checkpoint_alone(tmp_path):
    cfg = tiny_config(tmp_path, model={"conditional": True})
    run = start_run(cfg)
    fit(run)
    G = load_generator(run.dir)
    assert G.num_classes == 10 and G.class_names[3] == "3" and not G.module.training
    a, b = sample(G, 12, seed=5), sample(G, 12, seed=5)
    assert a.shape == (12, 1, 8, 8) and torch.equal(a, b)
    assert not torch.equal(a, sample(G, 12, seed=6))
    with torch.no_grad():
        z, y = run.fixed_z[:4], run.fixed_y[:4]
        torch.testing.assert_close(G(z, y), run.game.ema.model(z, y))


def test_toy_run_writes_a_scatter(tmp_path):
    cfg = tiny_config(tmp_path, "toy_ring", data={"num_points": 1000}, train={"grid_size": 200})
    run = start_run(cfg)
    fit(run)
    assert (run.dir / "final.png").stat().st_size > 1000
    assert load_generator(run.dir).kind == "points"


def test_short_mnist_run_learns(tmp_path, shared_data):
    """A short run of a small DCGAN on real MNIST: samples move toward the data's statistics, and D,
    right about almost everything early on, no longer is."""
    cfg = tiny_config(tmp_path, "mnist_dcgan", data={"data_dir": str(shared_data)},
                      model={"conditional": False, "g_width": 32, "d_width": 32, "pack": 1},  # the lesson's plain GAN
                      train={"steps": 600, "batch_size": 32, "log_every": 50, "sample_every": 0,
                             "checkpoint_every": 0, "ema_decay": 0.0})
    run = start_run(cfg)
    real = load_dataset(DataConfig(name="mnist", data_dir=str(shared_data), split="test")).x[:512].float() / 127.5 - 1

    def distance():
        fake = sample(run.game.G.eval(), 512, seed=0)
        run.game.G.train()
        # mean image and pixel-intensity histogram: the two statistics any trained G must match first
        mean_gap = (fake.mean(0) - real.mean(0)).abs().mean().item()
        hist_gap = (torch.histc(fake, 10, -1, 1) - torch.histc(real, 10, -1, 1)).abs().sum().item() / (2 * real.numel())
        return mean_gap, hist_gap

    before = distance()
    fit(run, callbacks=[MetricsLog(every=50, probabilistic=True)])
    after = distance()
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert after[0] < 0.5 * before[0], (before, after)
    assert after[1] < 0.5 * before[1], (before, after)
    # D is soon right about nearly everything; as G learns, it no longer is (seeded: peak 0.998, end 0.894)
    acc = [(r["acc_real"] + r["acc_fake"]) / 2 for r in rows]
    assert max(acc) > 0.95
    assert 0.3 < acc[-1] < max(acc) - 0.04


def test_checkpoints_from_before_an_option_existed_still_resume():
    from gankit.models import ModelConfig, model_kwargs
    from gankit.training.session import check_same_architecture

    wanted = model_kwargs(ModelConfig(name="dcgan"), (1, 28, 28), 0)
    older = {**wanted, "D": {k: v for k, v in wanted["D"].items() if k != "cond"}}  # saved before d_cond
    check_same_architecture(older, wanted)
    with pytest.raises(GankitError, match="has cond='projection' but this run asks for 'acgan'"):
        check_same_architecture(older, {**wanted, "D": {**wanted["D"], "cond": "acgan"}})


def test_pacgan_trains_on_2d_data_and_draws_its_surface(tmp_path):
    cfg = tiny_config(tmp_path, "toy_ring", data={"num_points": 1000}, model={"pack": 2},
                      train={"grid_size": 64, "steps": 6})
    run = start_run(cfg)
    summary = fit(run)
    assert summary["step"] == 6 and (run.dir / "surfaces" / "step_000006.npz").is_file()
    with pytest.raises(GankitError, match="divide train.batch_size"):
        tiny_config(tmp_path, model={"pack": 3})
    with pytest.raises(GankitError, match="an AC-GAN D classifies single images"):
        tiny_config(tmp_path, model={"pack": 2, "conditional": True, "d_cond": "acgan"})


def test_a_packed_projection_aux_d_learns_the_classes_of_packs(tmp_path):
    """The classifier of a packed D is trained on each pack's label and G is rewarded through it: both class
    terms are logged, and D's accuracy on the reals is a share."""
    from gankit.training.steps import _class_loss

    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.0, 4.0]])  # two packs of two samples
    packed = _class_loss(logits, torch.tensor([0, 0, 2, 2]))
    assert packed.item() == pytest.approx(_class_loss(logits, torch.tensor([0, 2])).item(), rel=1e-6)
    assert packed.item() < 0.05 < _class_loss(logits, torch.tensor([2, 2, 0, 0])).item()
    cfg = tiny_config(tmp_path, model={"name": "dcgan", "g_width": 8, "d_width": 8, "g_depth": None,
                                       "d_depth": None, "conditional": True, "d_cond": "projection_aux", "pack": 2})
    run = start_run(cfg)
    fit(run)
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    assert all(row["d_aux_loss"] > 0 and row["g_aux_loss"] > 0 and 0 <= row["aux_acc_real"] <= 1 for row in rows)


def test_a_time_limit_ends_the_run_resumable(tmp_path, capsys, monkeypatch):
    from conftest import TINY_ARGS, run_cli

    from gankit.training import callbacks

    clock = iter(range(0, 10**6, 30))  # every reading of the clock is 30 s after the last
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: float(next(clock)))
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path), "--minutes", "1.5", *TINY_ARGS[:1], "40",
                             *TINY_ARGS[2:])
    summary = json.loads(out)
    assert code == 0 and summary["stopped_by"] == "time_limit" and 0 < summary["step"] < 40, err
    assert "stopped at the time limit (--minutes)" in err
    assert load_checkpoint(summary["run_dir"])["step"] == summary["step"]


def test_fastgan_trains_d_to_reconstruct_the_reals(tmp_path):
    cfg = tiny_config(tmp_path, data={"resolution": 16}, train={"steps": 30, "log_every": 10, "lr_d": 1e-3},
                      model={"name": "fastgan", "g_width": 8, "d_width": 8, "g_depth": None, "d_depth": None})
    run = start_run(cfg)
    fit(run)
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    recon = [r["reconstruction"] for r in rows if "reconstruction" in r]
    assert len(recon) == 3 and 0 < recon[-1] < 0.7 * recon[0]  # D learns to describe the images it sees
