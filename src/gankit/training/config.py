"""The run configuration: typed sections with defaults, presets (small JSON files) and overrides.

Resolution order: defaults < preset < command-line flags < `--set key=value`. Unknown keys and wrong
types are rejected with the offending key named.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources

from gankit.augment import AugmentConfig
from gankit.core.config import from_dict, merge, to_dict
from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.data import DATASETS, DataConfig, parse_name, validate_data
from gankit.data.clips import CLIP_DATASETS
from gankit.losses import LossConfig, validate_loss
from gankit.models import MODELS, ModelConfig, upgrade_model_section
from gankit.training.evaluation import EvalConfig, validate_eval
from gankit.training.health import HealthConfig
from gankit.training.schedules import LR_DECAYS

EMA_BN = ("copy", "standing")  # train.ema_bn: whose batch-norm statistics the EMA generator uses


PRECISIONS = ("fp32", "bf16")
RUN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune")


def _positive(where: str, value: float) -> None:
    if value <= 0:
        raise GankitError(f"{where} must be positive, got {value}")


def _at_least_zero(part, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(part, name) < 0:
            raise GankitError(f"train.{name} must be >= 0, got {getattr(part, name)}")


# Bounds on counts, so that a slip (an extra zero, a pasted number) is refused by --dry-run rather than by
# the allocator or an OverflowError mid-run.
TRAIN_LIMITS = {"steps": 10**9, "batch_size": 2**16, "n_critic": 1000, "grid_size": 100_000, "d_pretrain_steps": 10**6}
MAX_SEED = 2**63 - 2**20  # torch seeds are 64-bit; the runs' own streams add small offsets to it


def _check_limits(part) -> None:
    for name, limit in TRAIN_LIMITS.items():
        if hasattr(part, name) and getattr(part, name) > limit:
            raise GankitError(f"train.{name} must be at most {limit}, got {getattr(part, name)}")


@dataclass
class Algorithm:
    """What the game is: its length, batch, update ratio and the tricks that change an update."""

    steps: int = 2000  # generator updates; each follows n_critic discriminator updates
    batch_size: int = 64
    n_critic: int = 1
    d_pretrain_steps: int = 0  # extra D updates before the first G update
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, annealed linearly to 0
    topk: float = 1.0  # top-k update (Sinha et al. 2020): the share of G's batch, best-scored by D, that trains G
    topk_steps: int = 0  # steps over which that share falls linearly from 1 to train.topk (0: from the start)
    reuse_fakes: bool = False  # n_critic = 1: the G step reuses the D step's fakes (one G forward per iteration)
    seed: int = 0

    def validate_algorithm(self) -> None:
        for name in ("steps", "batch_size", "n_critic"):
            _positive(f"train.{name}", getattr(self, name))
        if not 0 < self.topk <= 1:
            raise GankitError(f"train.topk must be in (0, 1], got {self.topk}")
        _at_least_zero(self, ("d_pretrain_steps", "topk_steps", "instance_noise"))
        _check_limits(self)
        if not 0 <= self.seed <= MAX_SEED:
            raise GankitError(f"train.seed must be between 0 and {MAX_SEED}, got {self.seed}")


@dataclass
class Optimisation:
    """The optimizers (Adam for G and D), their rate schedule and the EMA of G's weights."""

    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1_g: float = 0.5
    beta2_g: float = 0.999
    beta1_d: float = 0.5
    beta2_d: float = 0.999
    lr_decay: str = "none"  # "linear": both learning rates fall linearly to 0 at train.steps
    lr_decay_start: float = 0.0  # the share of train.steps before the decay begins (rates constant until then)
    ema_decay: float = 0.0  # EMA of G's weights (0 = off); samples come from the EMA when on
    ema_start: int = 0  # copy G instead of averaging before this step
    # the EMA generator's batch-norm statistics: "copy" G's, or "standing": its own, recomputed from fresh
    # latents whenever it is drawn from or saved (noise-to-image runs; see training/ema.py)
    ema_bn: str = "copy"

    def validate_optimisation(self) -> None:
        _positive("train.lr_g", self.lr_g)
        _positive("train.lr_d", self.lr_d)
        for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d", "ema_decay"):
            if not 0 <= getattr(self, name) < 1:
                raise GankitError(f"train.{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.lr_decay_start < 1:
            raise GankitError(f"train.lr_decay_start must be in [0, 1), got {self.lr_decay_start}")
        _at_least_zero(self, ("ema_start",))
        if self.ema_bn not in EMA_BN:
            raise GankitError(f"train.ema_bn must be one of {', '.join(EMA_BN)}, got {self.ema_bn!r}")
        self.lr_decay = LR_DECAYS.canonical(self.lr_decay)


@dataclass
class Cadence:
    """How often the run reports and saves."""

    log_every: int = 50  # steps between progress lines / metrics.jsonl rows
    sample_every: int = 500  # steps between fixed-latent sample grids (0 = only at the end)
    checkpoint_every: int = 1000  # steps between rewrites of checkpoint.pt (0 = only at the end)
    snapshot_every: int = 0  # also keep checkpoints/step_N.pt every N steps (0 = never)
    grid_size: int = 64  # number of fixed latents in the sample grids

    def validate_cadence(self) -> None:
        _positive("train.log_every", self.log_every)
        _positive("train.grid_size", self.grid_size)
        _at_least_zero(self, ("sample_every", "checkpoint_every", "snapshot_every"))
        _check_limits(self)


@dataclass
class Runtime:
    """Where and how fast it runs: none of these changes what is learned, beyond floating-point rounding."""

    device: str = "auto"
    precision: str = "fp32"  # or "bf16": autocast of G and D forward passes (weights and optimizers stay fp32)
    compile: str = ""  # torch.compile G and D: "", "default", "reduce-overhead" (CUDA graphs), "max-autotune"
    channels_last: bool = True  # NHWC convolutions (faster kernels on CPU and GPU); no effect on MLPs
    sync_bn: bool = False  # several GPUs: batch norm over the global batch (SyncBatchNorm), not each shard
    dist_timeout: float = 600.0  # several processes: seconds a collective may wait for a peer before failing
    minutes: float = 0.0  # stop (checkpointed, resumable) after this much training time in this session; 0 = off

    def validate_runtime(self) -> None:
        _positive("train.dist_timeout", self.dist_timeout)
        if not 0 <= self.minutes < 10**7:
            raise GankitError(f"train.minutes must be >= 0 (0: no time limit), got {self.minutes}")
        if self.precision not in PRECISIONS:
            raise GankitError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.compile not in COMPILE_MODES:
            modes = ", ".join(repr(m) for m in COMPILE_MODES)
            raise GankitError(f"train.compile must be one of {modes}, got {self.compile!r}")


@dataclass
class TrainConfig(Algorithm, Optimisation, Cadence, Runtime):
    """The `train` section: four parts, each with its own fields and checks. Its keys stay flat
    (`train.lr_g`), so commands and config.json files do not change with the grouping; a new option goes
    into the part it belongs to."""

    def validate(self) -> None:
        self.validate_algorithm()
        self.validate_optimisation()
        self.validate_cadence()
        self.validate_runtime()


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    out: str = "runs"  # parent of the numbered run directories
    name: str = ""  # the run directory's name under `out` (default: the next NNNNN-dataset-model)
    preset: str = ""  # the preset this config started from, for the record


def _preset_dir():
    return resources.files("gankit") / "presets"


PRESETS: Registry[str] = Registry("preset")
for _entry in sorted(_preset_dir().iterdir(), key=lambda e: e.name):
    if _entry.name.endswith(".json"):
        PRESETS.add(_entry.name[:-5], _entry.name)


def load_preset(name: str) -> dict:
    """The preset's dict (a few keys over the defaults)."""
    filename = PRESETS.get(name)
    return json.loads((_preset_dir() / filename).read_text())


def default_preset(data: str | None, model: str | None) -> str | None:
    """The preset that fits `--data X [--model Y]` (mnist + dcgan -> mnist_dcgan; toy_ring -> toy_ring;
    image pairs -> the preset made for them, else pix2pix's, or srresnet's for small copies; clips -> simvp's)."""
    if data is None:
        data = "digits"
    pairing, base, _ = parse_name(data)
    if pairing or data == "pairs":
        return _pairs_preset(data, pairing, model)
    if data not in DATASETS:
        return None
    short = {"fashion_mnist": "fashion"}.get(DATASETS.canonical(data), DATASETS.canonical(data))
    wanted = MODELS.canonical(model) if model else None
    for name in (f"{short}_{wanted or 'dcgan'}", short, f"{short}_mlp"):
        if name in PRESETS and wanted in (None, load_preset(name)["model"]["name"]):
            return name
    if DATASETS.canonical(data) in CLIP_DATASETS and wanted in (None, "simvp"):
        return "simvp"  # clips without a preset of their own: the frame predictor's
    return None


def _pairs_preset(data: str, pairing: str, model: str | None) -> str:
    wanted = MODELS.canonical(model) if model else ("srresnet" if pairing == "lowres" else "pix2pix")
    cfg = DataConfig(name=data)
    validate_data(cfg)  # the canonical name, as presets write it
    for name in PRESETS.names():
        preset = load_preset(name)
        if preset.get("data", {}).get("name") == cfg.name and not preset["data"].get("classes") \
                and preset["model"]["name"] == wanted:
            return name
    return wanted if wanted in PRESETS else None


def resolve(preset: str | None, overrides: list[dict]) -> RunConfig:
    """Defaults, then the preset, then each override dict in turn; validated."""
    tree = to_dict(RunConfig())
    if preset:
        tree = merge(tree, load_preset(preset))
        tree["preset"] = PRESETS.canonical(preset)
    for override in overrides:
        tree = merge(tree, override)
    asked = [override.get("model", {}) for override in overrides]
    if any(m.get("d_cond") == "acgan" for m in asked) and not any("pack" in m for m in asked):
        # a conditional PacGAN D packs samples of one class and projects their label; an AC-GAN D classifies
        # single images, so a preset's packs yield to it (packs asked for with it are refused by validate())
        tree["model"]["pack"] = 1
    if any("conditional" in m for m in asked) and not any("clusters" in o.get("data", {}) for o in overrides):
        # a preset's clusters stand in for labels it does not use: asking for a conditional model means the
        # data's own classes, asking for an unconditional one means none
        tree["data"]["clusters"] = 0
    cfg = from_dict(RunConfig, tree)
    validate(cfg)
    return cfg


def upgrade_config(tree: dict) -> dict:
    """A config dict as an older gankit wrote it (config.json, a checkpoint), in today's form."""
    if not isinstance(tree, dict):
        raise GankitError(f"the stored config must be a mapping, got {type(tree).__name__}")
    if isinstance(tree.get("model"), dict):
        tree = {**tree, "model": upgrade_model_section(tree["model"])}
    if "augment" not in tree:  # written before augmentation existed: those runs had none
        tree = {**tree, "augment": {"name": "none"}}
    return tree


def validate(cfg: RunConfig) -> None:
    """Range and consistency checks that types alone cannot express: each section checks itself, this
    function composes them and checks what spans sections."""
    cfg.train.validate()
    validate_data(cfg.data)
    cfg.model.validate()
    validate_loss(cfg.loss)
    cfg.health.validate()
    cfg.augment.validate()
    validate_eval(cfg.eval)
    if cfg.train.batch_size % cfg.model.pack:
        raise GankitError(f"model.pack must be >= 1 and divide train.batch_size ({cfg.train.batch_size}), "
                          f"got {cfg.model.pack}")
    if cfg.data.clusters and not cfg.model.conditional:
        raise GankitError("data.clusters makes pseudo-classes for a conditional model to draw: add --conditional "
                          "(model.conditional=true)")
    if cfg.name and not RUN_NAME.fullmatch(cfg.name):
        raise GankitError(f"--name {cfg.name!r}: use letters, digits, '.', '_' and '-' (at most 100, not starting "
                          "with '.')")
