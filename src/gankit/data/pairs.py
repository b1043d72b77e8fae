"""Image pairs for image-to-image tasks (drawing → photo, low → high resolution): made on the fly from any
image dataset, or read from a folder of pairs. Pure functions on uint8 [N, C, H, W] arrays.

- `sketch_edges`: sketches as people draw them and as edges2shoes has them — dark strokes on a light
  background. pix2pix made its edges with HED, a network whose weights cannot be had offline; here Canny's
  detector (scikit-image) stands in, followed by thinning to one-pixel strokes and removal of specks, as
  pix2pix post-processed HED. Optional dilation, blur and stroke jitter widen the range of drawings a model
  trained on them accepts (hand-drawn strokes are thicker and shakier than edge maps).
- `downscale`: the one degradation of super-resolution here — Pillow's antialiased bicubic resize (a = -0.5,
  MATLAB imresize's kernel, which SRGAN's and most SR papers' low-resolution images come from).
- `read_pair_folder`: a folder with `A/` and `B/` holding images of the same names, or pix2pix's aligned
  layout (each file the source and the target side by side, A left of B).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.core.errors import GankitError
from gankit.data.dataset import DataConfig, Dataset
from gankit.data.folder import DEFAULT_RESOLUTION, EXTENSIONS, fit_square, open_image

log = logging.getLogger("gankit")


@dataclass(frozen=True)
class Sketch:
    """How edges become a drawing (defaults: the training edges; a user's own drawings need no option)."""

    sigma: float = 1.0  # Canny's Gaussian smoothing, in pixels of the image
    min_size: int = 8  # strokes (connected edge pixels) shorter than this are specks and removed
    thickness: int = 1  # stroke width in pixels after thinning (dilation by a disk)
    blur: float = 0.0  # Gaussian blur of the drawing, in pixels (soft pencil strokes)
    jitter: float = 0.0  # strokes displaced by a smooth random field of this many pixels (a shaky hand)
    operator: str = "canny"  # or "sobel": another detector's edges (gradient magnitude over Otsu's threshold)


# Named ways of drawing (edges:DATASET:STYLE). "clean" is the default; the others stand for drawings a model
# trained on clean ones did not see — a felt pen, a shaky hand, another edge operator — and "varied" draws
# each image in a style picked at random from around them, to train a model that accepts them (the shoe
# preset does, because people's drawings are rarely Canny's).
SKETCH_STYLES = {"clean": Sketch(), "thick": Sketch(thickness=3), "shaky": Sketch(jitter=1.5, blur=0.6),
                 "sobel": Sketch(operator="sobel"), "varied": None}


def varied_style(rng: np.random.Generator) -> Sketch:
    """One image's style for "varied": stroke width, shake, blur and operator drawn at random."""
    return Sketch(thickness=int(rng.choice([1, 1, 3])), jitter=float(rng.uniform(0, 1.5)),
                  blur=float(rng.uniform(0, 0.6)), operator=str(rng.choice(["canny", "sobel"])))


def _gray(image: np.ndarray) -> np.ndarray:
    """[C, H, W] uint8 -> [H, W] float in [0, 1] (luma for colour)."""
    x = image.astype(np.float32) / 255.0
    return x[0] if x.shape[0] == 1 else 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def _jitter(strokes: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Move stroke pixels along a smooth random displacement field of about `amount` pixels."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    h, w = strokes.shape
    field = [gaussian_filter(rng.standard_normal((h, w)), sigma=max(h, w) / 8) for _ in range(2)]
    field = [f / (np.abs(f).max() + 1e-8) * amount for f in field]
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    moved = map_coordinates(strokes.astype(np.float32), [rows + field[0], cols + field[1]], order=1, mode="constant")
    return moved > 0.5


def _edges(gray: np.ndarray, style: Sketch) -> np.ndarray:
    from skimage.feature import canny
    from skimage.filters import gaussian, sobel, threshold_otsu

    if style.operator == "canny":
        return canny(gray, sigma=style.sigma)
    magnitude = sobel(gaussian(gray, sigma=style.sigma))
    return magnitude > max(threshold_otsu(magnitude), 0.05) if magnitude.max() > 0 else magnitude > 0


def sketch_one(image: np.ndarray, style: Sketch, rng: np.random.Generator) -> np.ndarray:
    """One [C, H, W] uint8 image -> its drawing, [1, H, W] uint8: strokes 0 (black) on 255 (white)."""
    from scipy.ndimage import binary_dilation
    from skimage.filters import gaussian
    from skimage.morphology import disk, remove_small_objects, thin

    strokes = thin(_edges(_gray(image), style))
    if style.min_size > 1:  # 8-connected: a thinned diagonal stroke touches only at corners
        strokes = remove_small_objects(strokes, max_size=style.min_size - 1, connectivity=2)
    if style.jitter > 0:
        strokes = _jitter(strokes, style.jitter, rng)
    if style.thickness > 1:
        strokes = binary_dilation(strokes, structure=disk(style.thickness // 2))
    ink = strokes.astype(np.float32)
    if style.blur > 0:
        ink = np.clip(gaussian(ink, sigma=style.blur) * (1 + style.blur), 0, 1)
    return np.round(255 * (1 - ink)).astype(np.uint8)[None]


def sketch_edges(images: torch.Tensor, style: Sketch | None = Sketch(), seed: int = 0) -> torch.Tensor:
    """uint8 [N, C, H, W] -> their drawings, uint8 [N, 1, H, W] (dark strokes on white). Seeded (jitter and,
    for style None, each image's style: see varied_style)."""
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise GankitError(f"sketch_edges takes uint8 images [N, C, H, W], got {images.dtype} {list(images.shape)}")
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([sketch_one(im, style or varied_style(rng), rng) for im in images.numpy()]))


def downscale(images: torch.Tensor, factor: int) -> torch.Tensor:
    """uint8 [N, C, H, W] -> uint8 [N, C, H/factor, W/factor], Pillow's antialiased bicubic."""
    h, w = images.shape[-2:]
    if factor < 2 or h % factor or w % factor:
        raise GankitError(f"a downscale factor must be at least 2 and divide the size: {factor} does not divide "
                          f"{h}×{w}")
    return resize(images, w // factor)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [N, C, H, W] -> uint8 [N, C, size, size] by Pillow's bicubic (antialiased when shrinking)."""
    n, c = images.shape[:2]
    out = [np.asarray(Image.fromarray(ch).resize((size, size), Image.Resampling.BICUBIC))
           for im in images.numpy() for ch in im]
    return torch.from_numpy(np.stack(out).reshape(n, c, size, size))


def _image_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in EXTENSIONS and p.is_file()}


def pair_files(root: Path) -> list[tuple[Path, Path | None]]:
    """[(A file, B file)] for A/ and B/ with matching names, or [(AB file, None)] for the aligned layout."""
    if not root.is_dir():
        raise GankitError(f"{root} is not a folder of image pairs")
    if (root / "A").is_dir() and (root / "B").is_dir():
        a, b = _image_files(root / "A"), _image_files(root / "B")
        unmatched = sorted(set(a) ^ set(b))
        if unmatched:
            raise GankitError(f"{root}: {len(unmatched)} images of A/ and B/ have no partner of the same name "
                              f"(first: {unmatched[0]}); pairs are matched by file name")
        return [(a[k], b[k]) for k in sorted(a)]
    aligned = _image_files(root)
    if not aligned:
        raise GankitError(f"{root} holds neither A/ and B/ folders of pairs nor side-by-side images (A left of "
                          "B, as pix2pix's datasets)")
    return [(p, None) for p in aligned.values()]


def read_pair_folder(root: str | Path, resolution: int, mode: str = "RGB") -> tuple[torch.Tensor, torch.Tensor]:
    """(sources, targets) as uint8 [N, C, resolution, resolution], C = 3 for RGB or 1 for L. Each image is
    read as image folders read theirs (folder.open_image, folder.fit_square)."""
    sources, targets = [], []
    for first, second in pair_files(Path(root)):
        if second is None:
            im = open_image(first, 2 * resolution)
            if im.width < 2 * im.height - 1:
                raise GankitError(f"{first} is {im.width}×{im.height}: a side-by-side pair is twice as wide as high")
            half = im.width // 2
            a, b = im.crop((0, 0, half, im.height)), im.crop((half, 0, 2 * half, im.height))
        else:
            a, b = open_image(first, resolution), open_image(second, resolution)
        sources.append(np.asarray(fit_square(a.convert(mode), resolution)))
        targets.append(np.asarray(fit_square(b.convert(mode), resolution)))
    stack = [torch.from_numpy(np.stack(x)) for x in (sources, targets)]
    return tuple(t.unsqueeze(1) if t.dim() == 3 else t.permute(0, 3, 1, 2).contiguous() for t in stack)


def _images(data: Dataset, pairing: str) -> None:
    if data.kind != "image":
        raise GankitError(f"{pairing}: pairs are made from images; {data.name} is {data.kind} data")
    if data.source is not None:
        raise GankitError(f"{pairing}: {data.name} is paired already")


def with_edges(data: Dataset, argument: str = "") -> Dataset:
    """edges:DATASET[:STYLE] — each image paired with its drawing (sketch_edges in SKETCH_STYLES[STYLE],
    default clean) as the source."""
    _images(data, "edges")
    if argument and argument not in SKETCH_STYLES:
        raise GankitError(f"edges:{data.name}:{argument}: no such drawing style (styles: {', '.join(SKETCH_STYLES)})")
    if len(data) > 5000:
        log.info("drawing the edges of %d images (about %.0f s)", len(data), len(data) * 0.001)
    style = argument or "clean"
    return replace(data, extra={**data.extra, "pairing": "edges", "style": style},
                   source=sketch_edges(data.x, SKETCH_STYLES[style]))


def with_lowres(data: Dataset, argument: str) -> Dataset:
    """lowres:DATASET:FACTOR — each image paired with its bicubic downscale by FACTOR as the source."""
    _images(data, "lowres")
    if not argument.isdigit():
        raise GankitError(f"lowres:{data.name} needs a factor: lowres:{data.name}:4 pairs each image with a copy "
                          f"4 times smaller, got {argument!r}")
    factor = int(argument)
    return replace(data, extra={**data.extra, "pairing": "lowres", "factor": factor}, source=downscale(data.x, factor))


def read_pairs(cfg: DataConfig) -> Dataset:
    """A folder of pairs (data.path): A/ and B/ of matching names, or side-by-side images (A left of B)."""
    if not cfg.path:
        raise GankitError("data.name=pairs needs the folder: pass --data pairs:PATH")
    root = Path(cfg.path).expanduser()
    mode = "L" if cfg.channels == 1 else "RGB"
    sources, targets = read_pair_folder(root, cfg.resolution or DEFAULT_RESOLUTION, mode)
    if cfg.channels == 0 and _all_gray(targets) and _all_gray(sources):
        sources, targets = sources[:, :1].contiguous(), targets[:, :1].contiguous()
    return Dataset(root.name or "pairs", targets, None, [], "image",
                   {"root": str(root), "pairing": "folder"}, sources)


def _all_gray(images: torch.Tensor) -> bool:
    """RGB images whose three channels are equal (a folder of grayscale photos read as RGB)."""
    return bool((images[:, 0] == images[:, 1]).all() and (images[:, 1] == images[:, 2]).all())
