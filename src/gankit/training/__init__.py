"""L3 training: the one loop, the step functions, run configs and presets, callbacks."""
from gankit.training.config import PRESETS, RunConfig, TrainConfig, default_preset, resolve
from gankit.training.loop import Run, fit, resume_run, start_run

__all__ = ["PRESETS", "Run", "RunConfig", "TrainConfig", "default_preset", "fit", "resolve", "resume_run",
           "start_run"]
