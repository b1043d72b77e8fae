"""Clips of frames for next-frame prediction: Moving MNIST synthesised from MNIST, and clips of the user's
(GIFs or video files, a folder of them, a folder of frame folders, or a .npy of uint8 [N, T, H, W(, C)]).

A clip dataset is a paired dataset of kind "clip": `source` holds the last `context` frames a model sees
and `x` the `horizon` frames after them, each stacked along channels ([N, frames · C, H, W]), so the one
loop's image pairs carry them and D judges the whole clip (past and future stacked). `extra` records
context, horizon and the channels of one frame.

Moving MNIST is Srivastava et al. 2015's: digits move on straight lines from a random position in a random
direction at a fixed speed and bounce off the edges; overlapping digits combine by their maximum. Training
clips are drawn from MNIST train with the run's data seed, as a fixed set of data.clips or, with data.stream,
fresh for every batch ("synthesised on the fly", as Srivastava et al. trained); the test split is a fixed set
of 10,000 clips from MNIST test digits (the usual file, mnist_test_seq.npy, is a download: these are made the
same way, not the same clips).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageSequence

from gankit.core.errors import GankitError
from gankit.data.dataset import DataConfig, Dataset, resize_images
from gankit.data.folder import EXTENSIONS, open_image

TEST_SEED = 20_000_102  # the fixed test clips: the same for every run and every `gankit eval`
TEST_CLIPS = 10_000
MAX_CLIP_BYTES = 8 << 30  # clips are held in memory: refuse what would not fit a laptop


@dataclass(frozen=True)
class MovingSpec:
    """One Moving MNIST variant: canvas size, digits per clip, the default frames seen and predicted, the
    digits' size on the canvas and the images they come from ("mnist", or the embedded 8×8 "digits")."""

    size: int
    digits: int
    context: int
    horizon: int
    glyph: int = 28
    source: str = "mnist"

    @property
    def frames(self) -> int:
        return self.context + self.horizon


# moving_digits: the embedded 8×8 digits on a 16×16 canvas, for tests and a first look without MNIST
MOVING_MNIST = {"moving_mnist": MovingSpec(64, 2, 10, 10), "moving_mnist_small": MovingSpec(32, 1, 5, 5, glyph=14),
                "moving_digits": MovingSpec(16, 1, 4, 4, glyph=8, source="digits")}
CLIP_DATASETS = (*MOVING_MNIST, "clips")  # the registered datasets that read clips


def trajectories(n: int, digits: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """[n, digits, frames, 2] positions in [0, 1] (row, column): a random start and direction, 0.1 of the
    free range a frame, reflected at the edges (Srivastava et al.'s generator)."""
    pos = rng.random((n, digits, 2))
    theta = rng.random((n, digits)) * 2 * np.pi
    velocity = np.stack([np.sin(theta), np.cos(theta)], -1) * 0.1
    out = np.empty((n, digits, frames, 2))
    for t in range(frames):
        out[:, :, t] = pos
        pos = pos + velocity
        low, high = pos < 0, pos > 1
        velocity = np.where(low | high, -velocity, velocity)
        pos = np.clip(pos, 0, 1)
    return out


def render(glyphs: np.ndarray, paths: np.ndarray, size: int) -> np.ndarray:
    """Glyphs uint8 [n, digits, g, g] moved along paths [n, digits, T, 2] on a size×size black canvas ->
    uint8 [n, T, size, size] (overlaps keep the brighter pixel)."""
    n, digits, frames = paths.shape[:3]
    g = glyphs.shape[-1]
    corner = np.rint(paths * (size - g)).astype(np.int64)
    canvas = np.zeros((n, frames, size, size), np.uint8)
    span = np.arange(g)
    clip = np.arange(n)[:, None, None]
    for t in range(frames):
        for d in range(digits):
            rows = (corner[:, d, t, 0][:, None] + span)[:, :, None]
            cols = (corner[:, d, t, 1][:, None] + span)[:, None, :]
            frame = canvas[:, t]
            frame[clip, rows, cols] = np.maximum(frame[clip, rows, cols], glyphs[:, d])
    return canvas


def glyph_images(digits: torch.Tensor, spec: MovingSpec) -> np.ndarray:
    """Digits uint8 [N, 1, g, g] resized once to the spec's glyph size -> uint8 [N, glyph, glyph] (14 px on the
    32 px canvas: the same motion as on 64 px, at half the resolution)."""
    return resize_images(digits, spec.glyph, 0)[:, 0].numpy()


def draw_plan(count: int, n: int, spec: MovingSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """What n clips show: which of `count` glyphs each digit is [n, digits], and their paths [n, digits, T, 2]."""
    which = rng.integers(0, count, size=(n, spec.digits))
    return which, trajectories(n, spec.digits, spec.frames, rng)


def draw_clips(glyphs: np.ndarray, n: int, spec: MovingSpec, rng: np.random.Generator) -> torch.Tensor:
    """n clips uint8 [n, T, 1, size, size]: each clip's digits drawn from `glyphs`, then their paths."""
    which, paths = draw_plan(len(glyphs), n, spec, rng)
    return torch.from_numpy(render(glyphs[which], paths, spec.size)).unsqueeze(2)


def moving_mnist(digits: torch.Tensor, n: int, spec: MovingSpec, seed: int) -> torch.Tensor:
    """n clips uint8 [n, T, 1, size, size] made from digits uint8 [N, 1, g, g] with `seed`."""
    return draw_clips(glyph_images(digits, spec), n, spec, np.random.default_rng(seed))


def stream_clips(glyphs: np.ndarray, spec: MovingSpec, clip_seed: int, n: int,
                 key: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """n fresh clips as (future, past), each uint8 [n, frames · 1, size, size]: the training clips of
    data.stream, drawn on the fly. The same `key` (the sampler's seed and batch number) draws the same clips,
    so a resumed run sees the batches an uninterrupted one would; no key draws the fixed set's clips (another
    seed sequence)."""
    clips = draw_clips(glyphs, n, spec, np.random.default_rng([clip_seed, *key]))
    past, future = past_and_future(clips, spec.context, spec.horizon)
    return future, past


def past_and_future(clips: torch.Tensor, context: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 clips [N, T, C, H, W] -> their first `context` frames and the `horizon` after them, each stacked
    along channels."""
    n, _, c, h, w = clips.shape
    past = clips[:, :context].reshape(n, context * c, h, w).contiguous()
    return past, clips[:, context:context + horizon].reshape(n, horizon * c, h, w).contiguous()


def split_clips(name: str, clips: torch.Tensor, context: int, horizon: int, extra: dict | None = None) -> Dataset:
    """uint8 clips [N, T, C, H, W] -> a clip dataset: the first `context` frames of each clip as the source,
    the `horizon` frames after them as the target (a longer clip gives one example; see windows)."""
    frames, c = clips.shape[1:3]
    if context < 1 or horizon < 1:
        raise GankitError(f"data.context and data.horizon must be at least 1 frame, got {context} and {horizon}")
    if frames < context + horizon:
        raise GankitError(f"{name}: its clips have {frames} frames, fewer than data.context {context} + "
                          f"data.horizon {horizon}")
    past, future = past_and_future(clips, context, horizon)
    record = {**(extra or {}), "pairing": "frames", "context": context, "horizon": horizon, "frame_channels": c}
    return Dataset(name, future, None, [], "clip", record, past)


def windows(clips: torch.Tensor, length: int) -> torch.Tensor:
    """Every clip [N, T, ...] cut into consecutive windows of `length` frames (what is left over is dropped):
    a long video gives many examples."""
    per = clips.shape[1] // length
    return clips[:, :per * length].reshape(clips.shape[0] * per, length, *clips.shape[2:])


def frames_of(cfg: DataConfig, context: int, horizon: int) -> tuple[int, int]:
    """data.context / data.horizon, each 0 meaning the dataset's own."""
    return cfg.context or context, cfg.horizon or horizon


def _digits(spec: MovingSpec, cfg: DataConfig) -> torch.Tensor:
    """The digits a variant moves: MNIST's split (train or test), or for the embedded 8×8 digits a fixed
    fifth of them as the test split and the rest for training."""
    from gankit.data.embedded import read_digits
    from gankit.data.idx import MNIST, read_idx_dataset

    if spec.source == "mnist":
        return read_idx_dataset("mnist", MNIST, DataConfig(name="mnist", data_dir=cfg.data_dir, split=cfg.split,
                                                           download=cfg.download)).x
    x = read_digits(DataConfig()).x
    test = torch.arange(len(x)) % 5 == 0
    return x[test if cfg.split == "test" else ~test]


def read_moving_mnist(cfg: DataConfig, name: str = "moving_mnist") -> Dataset:
    """Moving MNIST: split "train" synthesises data.clips clips from MNIST train (seeded by data.clip_seed)
    and with data.stream draws fresh ones for every batch (Dataset.stream); split "test" is the first
    data.clips of the fixed 10,000 test clips, from MNIST test digits."""
    spec = MOVING_MNIST[name]
    if cfg.split not in ("train", "test"):
        raise GankitError(f"{name} has splits 'train' and 'test', not {cfg.split!r}")
    if cfg.resolution not in (0, spec.size) or cfg.channels not in (0, 1):
        sizes = ", ".join(f"{k} {v.size}×{v.size}" for k, v in MOVING_MNIST.items())
        raise GankitError(f"{name} is {spec.size}×{spec.size} grayscale; data.resolution and data.channels do not "
                          f"apply (the variants: {sizes})")
    context, horizon = frames_of(cfg, spec.context, spec.horizon)
    test = cfg.split == "test"
    if test and cfg.clips > TEST_CLIPS:
        raise GankitError(f"the {name} test split holds {TEST_CLIPS} clips; data.clips is {cfg.clips}")
    _check_size(cfg.clips, context + horizon, spec.size, 1)
    glyphs = glyph_images(_digits(spec, cfg), spec)
    spec = replace(spec, context=context, horizon=horizon)
    if test:  # the whole fixed set's draws, then only the clips asked for: the first k are always the same
        clips = draw_clips(glyphs, TEST_CLIPS, spec, np.random.default_rng(TEST_SEED))[:cfg.clips].clone()
    else:
        clips = draw_clips(glyphs, cfg.clips, spec, np.random.default_rng(cfg.clip_seed))
    stream = cfg.stream and not test
    data = split_clips(name, clips, context, horizon, {"digits": spec.digits, "clip_seed": cfg.clip_seed,
                                                        **({"stream": True} if stream else {})})
    if stream:  # the fixed clips stay for what needs a set (the grid's pasts, real batches to compare)
        data.stream = partial(stream_clips, glyphs, spec, cfg.clip_seed)
    return data


def read_moving_mnist_small(cfg: DataConfig) -> Dataset:
    return read_moving_mnist(cfg, "moving_mnist_small")


def read_moving_digits(cfg: DataConfig) -> Dataset:
    return read_moving_mnist(cfg, "moving_digits")


def _check_size(n: int, frames: int, size: int, channels: int) -> None:
    if n < 1:
        raise GankitError(f"data.clips must be at least 1, got {n}")
    if n * frames * size * size * channels > MAX_CLIP_BYTES:
        raise GankitError(f"{n} clips of {frames} frames at {size}×{size} are more than "
                          f"{MAX_CLIP_BYTES >> 30} GB in memory; lower data.clips")


# ---- the user's clips ----------------------------------------------------------------------------------------

def read_gif(path) -> np.ndarray:
    """Every frame of a GIF (a path or an open binary file) as uint8 [T, H, W, C] (C 1 for grayscale, else 3)."""
    try:
        with Image.open(path) as img:
            frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(img)]
    except Exception as exc:  # Pillow raises many types for files that are not GIFs or are cut short
        raise GankitError(f"{getattr(path, 'name', path)} does not decode as a GIF ({exc.__class__.__name__}: "
                          f"{str(exc)[:100]})") from exc
    arr = np.stack([np.asarray(f) for f in frames])
    return arr[..., :1] if _gray(arr) else arr


def read_video(path: Path) -> np.ndarray:
    """Every frame of a video file (MP4, AVI, MOV, MKV, WebM, MPEG) as uint8 [T, H, W, C], decoded by PyAV,
    whose wheel ships FFmpeg's decoders (an optional dependency: gankit[video])."""
    try:
        import av
    except ImportError as exc:
        raise GankitError(f"{path}: reading video files needs PyAV, whose wheel ships its own decoders: "
                          "pip install 'gankit[video]' (or save the frames as images or a GIF)") from exc
    frames, size = [], 0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                size += frames[-1].nbytes
                if size > MAX_CLIP_BYTES:  # decoded frames are held whole: stop before the machine does
                    raise GankitError(f"{path} decodes to more than {MAX_CLIP_BYTES >> 30} GB of frames; cut it "
                                      "shorter or smaller first")
    except GankitError:
        raise
    except Exception as exc:  # FFmpeg's many error types, for files that are not videos or are cut short
        raise GankitError(f"{path} does not decode as a video ({exc.__class__.__name__}: {str(exc)[:100]})") from exc
    if not frames:
        raise GankitError(f"{path} holds no video frames")
    arr = np.stack(frames)
    return arr[..., :1] if _gray(arr) else arr


def _gray(arr: np.ndarray) -> bool:
    return bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())


def read_frame_folder(folder: Path) -> np.ndarray:
    """A folder of frames (sorted by name) as uint8 [T, H, W, C]."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise GankitError(f"{folder} holds no frames ({', '.join(sorted(EXTENSIONS))})")
    frames = [np.asarray(_open(p).convert("RGB")) for p in files]
    if len({f.shape for f in frames}) > 1:
        raise GankitError(f"{folder}: its frames differ in size; every frame of a clip must be the same size")
    arr = np.stack(frames)
    return arr[..., :1] if _gray(arr) else arr


def _open(path: Path) -> Image.Image:
    try:
        return open_image(path, 4096)
    except Exception as exc:  # PIL raises many types for corrupt, truncated or bomb files
        raise GankitError(f"{path} could not be read as an image ({exc.__class__.__name__})") from exc


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise GankitError(f"{path} is not a readable .npy array ({str(exc)[:100]})") from exc


def clip_array(arr: np.ndarray, where: str) -> np.ndarray:
    """A .npy's array as uint8 [N, T, H, W, C]: uint8 [N, T, H, W] (grayscale) or [N, T, H, W, C], C 1 or 3."""
    if arr.dtype != np.uint8 or arr.ndim not in (4, 5) or (arr.ndim == 5 and arr.shape[-1] not in (1, 3)):
        raise GankitError(f"{where} holds {arr.dtype} {list(arr.shape)}: clips are uint8 [N, T, H, W] or "
                          "[N, T, H, W, C] with C 1 or 3 (Moving MNIST's mnist_test_seq.npy is [T, N, H, W]: "
                          "np.swapaxes(a, 0, 1) first)")
    return arr[..., None] if arr.ndim == 4 else arr


CLIP_FILES = {".gif": read_gif, **{ext: read_video for ext in (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm",
                                                                 ".mpg", ".mpeg")}}  # one clip per file


def read_clip_files(path: Path) -> tuple[np.ndarray, list[str]]:
    """A .npy, a GIF or video file, a folder of them or a folder of frame folders -> (uint8 [N, T, H, W, C],
    names). Clips of one call must share frame count, size and channels (frames are cut to the shortest clip)."""
    suffix = path.suffix.lower()
    if path.is_file() and suffix == ".npy":
        return clip_array(_load_npy(path), str(path)), []
    if path.is_file() and suffix in CLIP_FILES:
        return CLIP_FILES[suffix](path)[None], [path.stem]
    if not path.is_dir():
        raise GankitError(f"{path}: clips are a .npy of uint8 [N, T, H, W(, C)], a GIF or video file "
                          f"({', '.join(CLIP_FILES)}), a folder of them or a folder of frame folders")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in CLIP_FILES)
    folders = sorted(p for p in path.iterdir() if p.is_dir())
    if not files and not folders:
        raise GankitError(f"{path} holds neither GIFs, videos nor folders of frames")
    clips = [CLIP_FILES[p.suffix.lower()](p) for p in files] if files else [read_frame_folder(p) for p in folders]
    names = [p.stem for p in files] if files else [p.name for p in folders]
    return same_shape(clips, names, str(path)), names


def same_shape(clips: list[np.ndarray], names: list[str], where: str) -> np.ndarray:
    """Clips [T_i, H, W, C] as one array, cut to the shortest T; sizes and channels must agree."""
    shapes = {c.shape[1:] for c in clips}
    if len(shapes) > 1:
        first = clips[0].shape[1:]
        odd = next(n for n, c in zip(names, clips) if c.shape[1:] != first)
        raise GankitError(f"{where}: clip {odd} is {'x'.join(map(str, clips[names.index(odd)].shape[1:]))} "
                          f"(H×W×C), the first is {'x'.join(map(str, first))}; every clip must be the same size")
    frames = min(c.shape[0] for c in clips)
    return np.stack([c[:frames] for c in clips])


def read_clips(cfg: DataConfig) -> Dataset:
    """The user's clips (data.path): each cut into windows of context + horizon frames (default: half and half
    of the shortest clip), resized to data.resolution if set."""
    if not cfg.path:
        raise GankitError("data.name=clips needs the clips: pass --data clips:PATH (a .npy, a folder of GIFs or "
                          "videos, or a folder of frame folders)")
    root = Path(cfg.path).expanduser()
    arr, _ = read_clip_files(root)
    frames = arr.shape[1]
    context, horizon = frames_of(cfg, frames - frames // 2, frames // 2)
    if frames < context + horizon or horizon < 1:
        raise GankitError(f"{root}: its clips have {frames} frames, fewer than context {context} + horizon "
                          f"{max(horizon, 1)}")
    clips = torch.from_numpy(np.array(arr)).permute(0, 1, 4, 2, 3)
    clips = windows(clips, context + horizon)
    if cfg.resolution or cfg.channels:
        n, t = clips.shape[:2]
        flat = resize_images(clips.flatten(0, 1), cfg.resolution, cfg.channels)
        clips = flat.reshape(n, t, *flat.shape[1:])
    return split_clips(root.stem or "clips", clips, context, horizon, {"root": str(root)})
