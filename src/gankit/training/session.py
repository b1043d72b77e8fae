"""Building the game from a config, and moving its whole state into and out of checkpoints."""
from __future__ import annotations

import torch

from gankit.augment import build_augment
from gankit.core.errors import GankitError
from gankit.core.runtime import make_generator, seed_everything
from gankit.data import Dataset, parse_name
from gankit.losses import LOSSES, PENALTIES, g_terms
from gankit.metrics.perceptual import feature_net
from gankit.models import (MODELS, build_discriminator, build_generator, check_kwargs, check_size, check_weights,
                           complete_kwargs, model_kwargs, use_stream)
from gankit.training.config import RunConfig
from gankit.training.ema import EMA
from gankit.training.steps import Game, Rules


def _adam(params, lr: float, beta1: float, beta2: float) -> torch.optim.Adam:
    # fused Adam: one kernel for all parameters (CPU and CUDA), the optimizer is a large share of a
    # small GAN's step; the plain loop is the fallback for devices without it
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), fused=True)
    except RuntimeError:
        return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2))


def build_game(cfg: RunConfig, data: Dataset, device: torch.device) -> tuple[Game, dict]:
    """Fresh G, D, optimizers and EMA for `data`; returns the game and the model kwargs it was built from."""
    if cfg.model.conditional and not data.num_classes:
        raise GankitError(f"model.conditional needs a labelled dataset; {data.name} has no labels")
    kwargs = model_kwargs(cfg.model, data.shape, data.num_classes, data.source_shape, data.frame_channels)
    check_size(kwargs)
    seed_everything(cfg.train.seed)  # weight initialisation only; training randomness has its own stream
    t = cfg.train
    layout = torch.channels_last if t.channels_last and len(data.shape) == 3 else torch.contiguous_format
    G = build_generator(kwargs).to(device, memory_format=layout)
    D = build_discriminator(kwargs).to(device, memory_format=layout)
    game = Game(
        G=G, D=D,
        opt_G=_adam(G.parameters(), t.lr_g, t.beta1_g, t.beta2_g),
        opt_D=_adam(D.parameters(), t.lr_d, t.beta1_d, t.beta2_d),
        noise=make_generator(device, t.seed + 1),
        rules=Rules(loss=LOSSES.get(cfg.loss.name), penalty=PENALTIES.get(cfg.loss.penalty),
                    penalty_weight=cfg.loss.penalty_weight, label_smoothing=cfg.loss.label_smoothing,
                    aux_weight=cfg.loss.aux_weight, precision=t.precision, augment=build_augment(cfg.augment),
                    d_terms=MODELS.get(kwargs["name"]).d_terms,
                    g_terms=g_terms(cfg.loss, data.source is not None, D, _features(cfg, data, device)),
                    adversarial=cfg.loss.adversarial),
        ema=EMA(G, t.ema_decay, t.ema_start, _standing_inputs(cfg, data, G, device), t.batch_size)
        if t.ema_decay > 0 else None,
    )
    use_stream(D, game.noise)  # a D that draws noise (ssgan) draws it from the checkpointed stream
    if t.compile:
        _compile(game, t.compile)
    return game, kwargs


def _standing_inputs(cfg: RunConfig, data: Dataset, G: torch.nn.Module, device: torch.device):
    """train.ema_bn=standing: fn(n, gen) -> G's inputs as training draws them (latents, and labels in the data's
    shares: the classes evenly, clusters by their sizes), for the EMA's own batch-norm statistics; None
    keeps G's copied statistics."""
    if cfg.train.ema_bn != "standing":
        return None
    if data.source is not None:
        raise GankitError("train.ema_bn=standing draws G's inputs afresh, which a G of images or clips (image to "
                          "image, frames) cannot; keep train.ema_bn=copy")
    classes = G.num_classes
    prior = torch.tensor(data.label_prior, dtype=torch.float64) if classes and data.label_prior else None

    def inputs(n: int, gen: torch.Generator) -> tuple:
        z = torch.randn(n, G.z_dim, generator=gen).to(device)
        if not classes:
            return z, None
        y = (torch.multinomial(prior, n, replacement=True, generator=gen) if prior is not None
             else torch.randint(0, classes, (n,), generator=gen))
        return z, y.to(device)
    return inputs


def _features(cfg: RunConfig, data: Dataset, device: torch.device):
    """loss.perceptual's frozen network, for the dataset the pairs were made from; None when unused."""
    if cfg.loss.perceptual <= 0 or data.source is None:
        return None
    return feature_net(parse_name(cfg.data.name)[1], data.shape[0], cfg.data.data_dir, device)


def _compile(game: Game, mode: str) -> None:
    """torch.compile in place (Module.compile keeps the state_dict keys, so checkpoints do not change).
    D is left eager when a gradient penalty needs its double backward, which compiled graphs lack."""
    game.G.compile(mode=mode)
    if game.rules.penalty is None or game.rules.penalty_weight == 0:
        game.D.compile(mode=mode)


def game_state(game: Game) -> dict:
    """Weights, optimizer moments, EMA and the noise RNG: everything an exact resume needs from the game."""
    return {"G": game.G.state_dict(), "D": game.D.state_dict(),
            "G_ema": game.ema.ready().state_dict() if game.ema else None,
            "opt_G": game.opt_G.state_dict(), "opt_D": game.opt_D.state_dict(),
            "rng": {"noise": game.noise.get_state()}}


def load_game_state(game: Game, ckpt: dict) -> None:
    game.G.load_state_dict(ckpt["G"])
    game.D.load_state_dict(ckpt["D"])
    game.opt_G.load_state_dict(ckpt["opt_G"])
    game.opt_D.load_state_dict(ckpt["opt_D"])
    if game.ema is not None:
        if ckpt.get("G_ema") is None:
            raise GankitError("the checkpoint has no EMA weights but train.ema_decay > 0; resume with ema_decay=0")
        game.ema.model.load_state_dict(ckpt["G_ema"])
    game.noise.set_state(ckpt["rng"]["noise"])


def check_saved_networks(ckpt: dict) -> dict:
    """A checkpoint's model kwargs and every network's tensors, checked against each other before anything
    is built from them; returns the completed kwargs."""
    saved = check_kwargs(ckpt["model"])
    for part in ("G", "D", "G_ema"):
        if ckpt[part] is not None:
            check_weights(saved, part, ckpt[part])
    return saved


def _check_optimizer(name: str, opt: torch.optim.Optimizer, state) -> None:
    """Adam's saved moments must have the shapes of the parameters they belong to."""
    params = [p for group in opt.param_groups for p in group["params"]]
    groups = state.get("param_groups") if isinstance(state.get("state"), dict) else None
    ids = [i for g in groups for i in g.get("params", [])] if isinstance(groups, list) and all(
        isinstance(g, dict) for g in groups) else None
    if ids is None or len(ids) != len(params):
        raise GankitError(f"the checkpoint's {name} state does not fit the model (parameter groups differ)")
    for index, entry in state["state"].items():
        param = params[ids.index(index)] if index in ids else None
        tensors = entry.items() if isinstance(entry, dict) else None
        if param is None or tensors is None or any(
                not isinstance(v, torch.Tensor) or (k != "step" and v.shape != param.shape) for k, v in tensors):
            raise GankitError(f"the checkpoint's {name} state does not fit the model (moment {index!r})")


def restore_position(run, ckpt: dict, controllers: bool = True) -> None:
    """Put a run back where the checkpoint was: the game's state, the data order and the step count
    (shared by resume and by the NaN rollback, which keeps the controllers' values in force: `controllers`
    false)."""
    _check_optimizer("opt_G", run.game.opt_G, ckpt["opt_G"])
    _check_optimizer("opt_D", run.game.opt_D, ckpt["opt_D"])
    try:
        load_game_state(run.game, ckpt)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:  # the checks above leave few ways here
        raise GankitError(f"the checkpoint's training state does not load ({exc.__class__.__name__}: "
                          f"{str(exc).splitlines()[0][:120] if str(exc) else ''})") from exc
    run.sampler.load_state_dict(ckpt["sampler"])
    run.step = int(ckpt["step"])
    if controllers:
        _restore_controllers(run, ckpt)


def _restore_controllers(run, ckpt: dict) -> None:
    saved = ckpt.get("controllers", {})  # absent from files written before controllers were saved
    if not isinstance(saved, dict):
        raise GankitError("the checkpoint's controllers entry is damaged")
    for name, controller in run.controllers.items():
        if name in saved:
            controller.load_state_dict(saved[name])
        else:
            controller.missing_state(run)


def check_same_architecture(saved: dict, wanted: dict) -> None:
    """Refuse to resume when the model kwargs differ, naming the first difference."""
    saved = complete_kwargs(saved) if saved.get("name") in MODELS else saved
    if saved == wanted:
        return
    for part in ("name", "G", "D"):
        a, b = saved.get(part), wanted.get(part)
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    raise GankitError(f"the checkpoint's {part} has {key}={a.get(key)!r} but this run asks for "
                                      f"{b.get(key)!r}; resume with the architecture the run was started with")
        elif a != b:
            raise GankitError(f"the checkpoint is a {a!r} model but this run asks for {b!r}; resume with the "
                              "architecture the run was started with")
