"""`simvp`: next-frame prediction with frames as channels (Mathieu et al. 2016's generator input, SimVP's
encoder–translator–decoder, Gao et al. 2022), judged by a PatchGAN over the whole clip.

The family contract holds: G(z, y) with y the `context` past frames stacked along channels ([N, M·C, H, W] in
[-1, 1]) returns the `horizon` next frames stacked the same way ([N, K·C, H, W], tanh); D(x, y) is pix2pix's
PatchGAN on past and future concatenated, so it judges the clip as a whole (motion that does not continue the
past is as visible to it as a blurred digit).

- The encoder brings the stacked frames down twice (stride-2 3×3 convolutions) to a quarter of the size.
- The translator is where time is modelled: `depth` residual blocks in gSTA's manner (SimVP v2), a large
  depthwise kernel (7×7: at a quarter of the size it spans 28 pixels, a digit's width of motion) and a 1×1
  MLP, each over all frames' features at once.
- The decoder upsamples back, adding the encoder's features of the same size (U-Net-style skips by addition),
  so the digits' shapes in the last frames reach the output directly.
- A latent z (`z_dim`, 0 for none) is added before the translator: a seed picks one of G's futures, as in
  pix2pix here; a pixel-loss model learns to ignore it.
- `unshuffle` u > 1 folds each u×u block of pixels into channels first (pixel unshuffle) and unfolds the
  output last (pixel shuffle), so every layer runs at 1/u of the size: about u² times fewer operations per
  step, and so more steps in the same minutes. The warp still moves the full-size last frame, so the digits
  keep their full-size strokes.
- `objects` S >= 1 moves S objects of the last frame each whole, by the average of G's flow over its ink,
  instead of every pixel by its own flow: a digit can be moved, not smeared or faded, so predictions stay as
  sharp as the last frame. `whole_pixels` p pulls those moves toward whole pixels once G is trained, by the
  share p of their distance to the nearest (true = 1: rounded; 0: as trained).
- `segment` says which of several objects each pixel of the last frame is: "learned" (G's softmax, the
  default) or "motion" (block matching against the frame before, nn.motion; nothing learnt). Learned shares
  did not come apart on 64×64 two-digit clips: both objects kept a mix of both digits and moved alike. Motion
  gives each digit its own ink from the first step, so G only learns how each one moves.
- `track` also reads each object's path: with one object its ink centroid in every past frame, against the last
  frame's (with several, each object followed back by block matching, nn.object_paths), and the free space
  around it. A small MLP maps that path to a correction of each frame's move. The
  digit's place in a frame is exact to a pixel, but where between pixels it was, and so where it goes, is
  inferred from the whole path, which convolutions over the frames estimate poorly (see _track). On
  moving_mnist_small alone it lowered the MSE in two seeds of four and raised it in two; beside loss.centroid
  all four seeds came within 0.25 of each other, but the centroid term alone did nearly as well (docs/frames.md).
- `bounce` folds every move back at the frame's edges; `box` B > 0 makes it Moving MNIST's own rule, a square of
  B pixels centred on each object's ink that stops at an edge and turns back (see _boxed); with several objects
  tracked, their past turns and places say where each box's edges are (see _edges).
- `reckon` (with `track`, `box` and several objects) starts each object's moves by dead reckoning from its past
  places, the middle of where a straight run since its last turn can go (see _reckoned); G learns the correction.
- `reckon_within` W > 0 (with the same three) gives way to that reckoning once G is trained: wherever the places
  it can reach in a frame span at most W pixels on an axis, the object moves by the reckoning there, and by G's
  own move elsewhere (no straight run to go on, or too far ahead to be sure). Training is unchanged, so G still
  learns every move, and a run trained without it can be read with it (`gankit predict/eval --reckon-within`).
- `resample` is how the warp reads the last frame between pixels. Bilinear (the default) averages the two
  nearest pixels, so a stroke moved half a pixel loses some of its contrast; bicubic keeps more of it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.core.errors import GankitError
from gankit.models.dcgan import init_weights
from gankit.nn import check_choice, image_shape, ink_centroids, motion_shares, object_paths

NORMS = ("group", "batch", "none")
RESAMPLES = ("bilinear", "bicubic")  # how the warp reads the last frame between its pixels
SEGMENTS = ("learned", "motion")  # how a pixel is given to one of several objects: by G, or by block matching


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "group":  # per sample, as SimVP: a prediction does not depend on the rest of its batch
        return nn.GroupNorm(min(8, channels), channels)
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


def _conv(c_in: int, c_out: int, norm: str, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=norm == "none"),
                         _norm(norm, c_out), nn.LeakyReLU(0.2))


class Block(nn.Module):
    """x + MLP(norm(depthwise 7×7(x))): a large receptive field for motion at little cost."""

    def __init__(self, channels: int, norm: str, expand: int = 2):
        super().__init__()
        self.spatial = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = _norm(norm, channels)
        self.mix = nn.Sequential(nn.Conv2d(channels, channels * expand, 1), nn.GELU(),
                                 nn.Conv2d(channels * expand, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(self.norm(self.spatial(x)))


def _reach(present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Along the last dim of `present` [..., L] (bool): how many places lie before its first True and after its
    last (0 and 0 where there is none: nothing to move)."""
    some = present.any(-1)
    before = torch.where(some, present.int().argmax(-1), 0)
    after = torch.where(some, present.flip(-1).int().argmax(-1), 0)
    return before, after


def _track(past: torch.Tensor, channels: int) -> torch.Tensor:
    """The path of the ink through the past frames [N, M·C, H, W] as numbers [N, 2·(M-1) + 4]: each earlier
    frame's ink centroid (x, y) less the last frame's, in units of 4 pixels, then the columns free left and right
    of the last frame's ink and the rows free above and below it, in frame sizes. A digit drawn at a rounded
    place moves its centroid by whole pixels, so these differences are exact; the MLP learns what they say of
    the place between pixels and the direction, and where a bounce in the past bent the path."""
    ink = _inks(past, channels)
    where = ink_centroids(ink)[0].flip(-1)  # (x, y) of every frame: [N, M, 2]
    path = (where - where[:, -1:])[:, :-1].flatten(1) / 4
    return torch.cat((path, _room(ink[:, -1] > 0.1).to(past.dtype)), 1)


def _inks(past: torch.Tensor, channels: int) -> torch.Tensor:
    """Past frames [N, M·C, H, W] in [-1, 1] -> each frame's ink [N, M, H, W] (the ground 0, full ink 1)."""
    n, _, h, w = past.shape
    return ((past + 1) / 2).view(n, -1, channels, h, w).mean(2)


def _room(present: torch.Tensor) -> torch.Tensor:
    """Where there is ink, present [..., H, W] (bool) -> the free columns left and right of it and the free rows
    above and below, in frame sizes [..., 4]."""
    h, w = present.shape[-2:]
    (left, right), (top, bottom) = _reach(present.any(-2)), _reach(present.any(-1))
    return torch.stack((left / w, right / w, top / h, bottom / h), -1)


def _tracks(places: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """_track's numbers for each of several objects, from their places in the past frames (places [N, objects,
    M-1, 2], (x, y) in pixels from the last frame's, followed back by block matching: nn.object_paths; a centroid
    would mix the two digits) and their ink in the last frame (weight [N, objects, H, W]) -> [N, objects,
    2·(M-1) + 4]: the places in units of 4 pixels and the free space around each."""
    return torch.cat((places.flatten(2) / 4, _room(weight > 0.1).to(places.dtype)), 2)


def _box_edges(weight: torch.Tensor, box: int, places: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """How far each object's box of `box` pixels, centred on its ink's centroid (weight [N, objects, H, W]), may
    go each way before it meets an edge: (low, high) [N, objects, 2], (x, y) in whole pixels, low <= 0 <= high.
    MNIST centres each digit's centre of mass in its 28-pixel box, so at 64×64 the box is 28 and its place is exact
    to half a pixel; with the objects' past places (places, as _tracks takes them) the edges come from where each
    box has been (see _edges)."""
    size = torch.tensor(weight.shape[-1:-3:-1], device=weight.device, dtype=weight.dtype)  # (W, H)
    centre = ink_centroids(weight)[0].flip(-1)  # (x, y) [N, objects, 2]
    low, high = box / 2 - centre, size - box / 2 - centre  # how far the box may go each way, <= 0 <= ...
    low, high = low.round().clamp(max=0), high.round().clamp(min=0)  # clips on the pixel grid: whole pixels
    if places is not None:
        low, high = _edges(places, low, size - box)
    return low, high


def _boxed(shift: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Moves shift [N, objects, K, 2] (as _bounced's) of objects whose boxes may go from low to high (_box_edges)
    as Moving MNIST's generator moves its digits: frame by frame, a step that would take the box past an edge
    stops it there and turns it back (Srivastava et al. 2015). The box, not the ink, meets the edge: a digit turns
    a few pixels short of the frame's edge, which a fold at the ink's edge misses by as much again after the
    turn."""
    low, high = low[:, :, None], high[:, :, None]  # [N, objects, 1, 2]
    steps = (-shift).diff(dim=2, prepend=torch.zeros_like(shift[:, :, :1]))  # the objects' moves, frame by frame
    place, heading, out = torch.zeros_like(low), torch.ones_like(low), []
    for k in range(shift.shape[2]):
        place = place + heading * steps[:, :, k:k + 1]
        heading = torch.where((place < low) | (place > high), -heading, heading)
        place = torch.minimum(torch.maximum(place, low), high)
        out.append(place)
    return -torch.cat(out, 2)


def _with_last(places: torch.Tensor) -> torch.Tensor:
    """Places [N, objects, M-1, 2] from the last frame's -> [N, objects, M, 2], the last frame's (0) appended."""
    return torch.cat((places, torch.zeros_like(places[:, :, :1])), 2)


def _edges(places: torch.Tensor, low: torch.Tensor, span: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How far each object's box may go each way (low <= 0 <= high, [N, objects, 2]) read from its past places
    (places [N, objects, M-1, 2], (x, y) from the last frame's) where they say more than the ink's centroid
    (low, its estimate; span, the free travel of a box across the frame: high is always low + span). A box meets
    an edge exactly where a digit turned (Moving MNIST stops it there), so a turn in the past pins that edge and
    with it the other one, which is the one the digit heads for next; a box also reaches every place it has been.
    The centroid places the box only to half a pixel, so on some axes on the wrong pixel; places and turns fix
    most of those."""
    path = _with_last(places)
    low = torch.minimum(torch.maximum(low, path.amax(2) - span), path.amin(2))
    if path.shape[2] < 3:  # two frames show no turn
        return low, low + span
    step = path.diff(dim=2)
    turned = step[:, :, 1:] * step[:, :, :-1] < 0  # the object turned at frames 1 .. M-2
    floor, ceiling = turned & (step[:, :, :-1] < 0), turned & (step[:, :, :-1] > 0)  # at the low or the high edge
    far = torch.full_like(path[:, :, 1:-1], float("inf"))
    at_floor = torch.where(floor, path[:, :, 1:-1], far).amin(2)
    at_ceiling = torch.where(ceiling, path[:, :, 1:-1], -far).amax(2) - span
    low = torch.where(floor.any(2), at_floor, torch.where(ceiling.any(2), at_ceiling, low))
    return low, low + span


def _reckoned(places: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
              frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each object's next `frames` moves by dead reckoning, [N, objects, K, 2] ((x, y) in pixels, free flight: the
    box's turns are _boxed's), from its past places (places [N, objects, M-1, 2], as _tracks takes them) and its
    box's edges (low, high [N, objects, 2], _box_edges'); 0 where the places allow no straight line. Also how
    wide the range of places is that each move is the middle of, in pixels (same shape; inf where no line).

    A digit drawn on the pixel grid is where its place says to half a pixel, and exactly at an edge, where Moving
    MNIST clips it. Since its last turn it has moved in a straight line, so each future place lies between the
    least and the most any such line through the places since then allows (each pair of places bounds it), and
    the run before that turn had the same speed the other way, which bounds it too. The move is the middle of
    that range. A digit that met an edge in the last frame turns back there at the speed its run up to it
    allows. Without it the track MLP has to learn this reading of rounded places itself; with it, only the
    correction. Measured on the moving_mnist preset, and left off there (docs/frames.md)."""
    path = _with_last(places)
    m = path.shape[2]
    t = torch.arange(m, device=path.device, dtype=path.dtype).view(1, 1, m, 1).expand_as(path)
    edge = (path <= low[:, :, None]) | (path >= high[:, :, None])
    a, b = torch.where(edge, path, path - 0.5), torch.where(edge, path, path + 0.5)  # each place's bounds
    last_edge = torch.where(edge, t, -1).amax(2)  # [N, objects, 2]; -1: none seen
    turned = last_edge == m - 1  # met an edge in the last frame: its run is the one up to it
    before = torch.where(edge & (t < m - 1), t, -1).amax(2)
    start = torch.where(turned, before, last_edge).clamp_min(0)
    stop = torch.where(turned, m - 2, m - 1)
    run = (t >= start[:, :, None]) & (t <= stop[:, :, None])
    lo, hi = _speeds(a, b, run)
    earlier = torch.where(edge & (t < start[:, :, None]), t, -1).amax(2).clamp_min(0)
    previous = (t >= earlier[:, :, None]) & (t < start[:, :, None])  # the run before: it ends before the edge
    plo, phi = _speeds(a, b, previous)
    known = ~turned & (plo <= phi)  # the same speed the other way
    lo, hi = torch.where(known, torch.maximum(lo, -phi), lo), torch.where(known, torch.minimum(hi, -plo), hi)
    k = torch.arange(1, frames + 1, device=path.device, dtype=path.dtype).view(1, 1, frames, 1)
    back = -(lo + hi)[:, :, None] / 2 * k  # turned: from the edge (place 0), back along its run's speed
    ahead, wide = _places_ahead(a, b, run, m - 1 + k, lo, hi)
    fine = (run.sum(2) >= 2) & (lo <= hi + 1e-4)  # a straight run of two places or more, and one line through them
    moves = torch.where(turned[:, :, None], back, ahead)
    width = torch.where(turned[:, :, None], (hi - lo)[:, :, None] * k, wide)
    sure = fine[:, :, None] & (width >= 0)  # a range turned inside out: places no line fits, a misread path
    return (torch.where(fine[:, :, None], moves, torch.zeros_like(moves)),
            torch.where(sure, width, torch.full_like(width, float("inf"))))


def _pairs(run: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames in a run ([N, objects, M, 2] bool) -> each pair i < j of them [N, objects, M, M, 2] (bool) and
    j - i [M, M, 1]."""
    m = run.shape[2]
    i, j = torch.arange(m, device=run.device)[:, None], torch.arange(m, device=run.device)[None, :]
    pair = (i < j)[:, :, None] & run[:, :, :, None] & run[:, :, None, :]
    return pair, (j - i).clamp_min(1)[:, :, None].to(dtype)


def _speeds(a: torch.Tensor, b: torch.Tensor, run: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The least and most speed [N, objects, 2] (pixels a frame) of a straight line through places bounded by a
    and b ([N, objects, M, 2]) at the frames of `run`; lo > hi where fewer than two."""
    pair, gap = _pairs(run, a.dtype)
    big = torch.finfo(a.dtype).max / 4
    hi = torch.where(pair, (b[:, :, None] - a[:, :, :, None]) / gap, big).amin((2, 3))
    lo = torch.where(pair, (a[:, :, None] - b[:, :, :, None]) / gap, -big).amax((2, 3))
    return lo, hi


def _places_ahead(a: torch.Tensor, b: torch.Tensor, run: torch.Tensor, at: torch.Tensor, lo: torch.Tensor,
                  hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The middle of the places a straight line through the run's places (bounded by a and b, [N, objects, M, 2])
    may reach at the frames `at` [1, 1, K, 1], its speed within [lo, hi] [N, objects, 2] -> [N, objects, K, 2],
    and how wide that range is (same shape).
    Two places i < j bound the line's place at T by extending the line through their extremes; one place and
    the speed's bounds bound it too."""
    pair, gap = _pairs(run, a.dtype)
    m = a.shape[2]
    tt = torch.arange(m, device=a.device, dtype=a.dtype)
    big = torch.finfo(a.dtype).max / 4
    at = at.reshape(1, 1, -1, 1, 1, 1)
    r = (at - tt.view(1, 1, 1, 1, m, 1)) / gap.view(1, 1, 1, m, m, 1)  # (T - t_j) / (t_j - t_i)
    a_i, b_i, a_j, b_j = a[:, :, None, :, None], b[:, :, None, :, None], a[:, :, None, None], b[:, :, None, None]
    pairs = pair[:, :, None]
    top = torch.where(pairs, b_j + (b_j - a_i) * r, big).amin((3, 4))
    bottom = torch.where(pairs, a_j + (a_j - b_i) * r, -big).amax((3, 4))
    gone = at[..., 0] - tt.view(1, 1, 1, m, 1)  # [1, 1, K, M, 1]: frames from each place to T
    inrun = run[:, :, None]
    top = torch.minimum(top, torch.where(inrun, b[:, :, None] + hi[:, :, None, None] * gone, big).amin(3))
    bottom = torch.maximum(bottom, torch.where(inrun, a[:, :, None] + lo[:, :, None, None] * gone, -big).amax(3))
    return (top + bottom) / 2, top - bottom


def _bounced(shift: torch.Tensor, weight: torch.Tensor, ink: float = 0.1) -> torch.Tensor:
    """Moves shift [N, objects, K, 2] (x, y, in pixels; an output pixel reads the object at its place plus the
    shift, so the object moves by minus it) folded back at the frame's edges, as a ball bounces between walls:
    each object's ink (weight [N, objects, H, W] above `ink`) goes at most to an edge and a move past it comes
    back in as far. Moving MNIST's digits move so. It also keeps every object in the frame with a gradient
    everywhere: a move that took a digit off the frame would leave blank pixels, whose zero gradient cannot bring
    it back, and a pixel loss prefers a blank frame to a digit in the wrong place (seen: a seed whose far frames
    went blank for good)."""
    present = weight > ink
    left, right = _reach(present.any(2))  # free columns left and right of the ink: [N, objects]
    top, bottom = _reach(present.any(3))  # free rows above and below
    before = torch.stack((left, top), -1)[:, :, None].to(shift.dtype)  # [N, objects, 1, 2]
    span = (before + torch.stack((right, bottom), -1)[:, :, None].to(shift.dtype)).clamp_min(1e-6)
    place = before - shift  # where the ink's first column (row) goes, from the frame's edge: in [0, span]
    folded = span - (torch.remainder(place, 2 * span) - span).abs()  # a triangle wave: place itself in range
    return before - folded


class Generator(nn.Module):
    def __init__(self, shape: tuple[int, ...], z_dim: int = 8, num_classes: int = 0, width: int = 32,
                 depth: int = 4, norm: str = "group", source_channels: int = 1, factor: int = 1,
                 frame_channels: int = 1, warp: bool = False, unshuffle: int = 1, resample: str = "bilinear",
                 objects: int = 0, whole_pixels: float = 0.0, bounce: bool = False, track: bool = False,
                 segment: str = "learned", box: int = 0, reckon: bool = False, reckon_within: float = 0.0):
        super().__init__()
        check_choice("generator norm", norm, NORMS)
        check_choice("model.g.resample", resample, RESAMPLES)
        check_choice("model.g.segment", segment, SEGMENTS)
        channels, resolution = image_shape(shape, "simvp")
        if num_classes or factor != 1:
            raise GankitError("model simvp predicts frames of the size it is given, without class labels")
        if unshuffle < 1 or resolution % (4 * unshuffle):
            raise GankitError(f"model simvp: frames of {resolution} px are not a multiple of 4 × model.g.unshuffle "
                              f"({unshuffle}) pixels")
        if objects < 0 or (objects and not warp):
            raise GankitError(f"model.g.objects moves whole objects of the last frame: it needs model.g.warp=true and "
                              f"a count >= 1 (0: a flow per pixel), got {objects}")
        if not 0 <= whole_pixels <= 1:
            raise GankitError(f"model.g.whole_pixels is the share of the way to whole pixels each move is pulled, "
                              f"in [0, 1] (true = 1), got {whole_pixels}")
        if whole_pixels and not objects:
            raise GankitError("model.g.whole_pixels rounds the moves of whole objects: it needs model.g.objects")
        if bounce and not objects:
            raise GankitError("model.g.bounce bounces moved objects off the frame's edges: it needs model.g.objects")
        if box and (not bounce or not 0 < box <= resolution):
            raise GankitError(f"model.g.box is the size of the square each object bounces with, in pixels: it needs "
                              f"model.g.bounce and a size in 1..{resolution} (0: the ink's own extent), got {box}")
        if track and not objects:
            raise GankitError("model.g.track reads the paths of whole objects through the past frames: it needs "
                              "model.g.objects")
        if (reckon or reckon_within) and (not track or not box or objects < 2):
            raise GankitError("model.g.reckon and model.g.reckon_within reckon each object's moves from its tracked "
                              "places and its box's edges: they need model.g.track, model.g.box and "
                              "model.g.objects >= 2")
        if reckon_within < 0:
            raise GankitError(f"model.g.reckon_within is a width in pixels (0: off), got {reckon_within}")
        if segment == "motion" and (objects < 2 or source_channels < 2 * frame_channels):
            raise GankitError("model.g.segment=motion tells several objects apart by how the last of two past frames "
                              f"moved: it needs model.g.objects >= 2 and data.context >= 2, got {objects} objects")
        if frame_channels < 1 or channels % frame_channels or source_channels % frame_channels:
            raise GankitError(f"model simvp: {channels} output and {source_channels} input channels are not whole "
                              f"frames of {frame_channels} channels")
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        self.frame_channels, self.warp, self.unshuffle, self.resample = frame_channels, warp, unshuffle, resample
        self.objects, self.whole_pixels, self.bounce = objects, float(whole_pixels), bool(bounce)
        self.segment, self.box, self.reckon, self.reckon_within = segment, int(box), bool(reckon), float(reckon_within)
        self.source_shape = (source_channels, resolution, resolution)
        self.stem = _conv(source_channels * unshuffle ** 2, width, norm)
        self.down = nn.ModuleList([_conv(width, 2 * width, norm, 2), _conv(2 * width, 4 * width, norm, 2)])
        self.noise = nn.Linear(z_dim, 4 * width) if z_dim else None
        self.translator = nn.Sequential(*(Block(4 * width, norm) for _ in range(depth)))
        self.up = nn.ModuleList([_conv(4 * width, 2 * width, norm), _conv(2 * width, width, norm)])
        # warp: a velocity field (2), then per frame a correction to it (2), a mask (1) and drawn pixels (C);
        # objects: the field and its corrections, then which object each pixel belongs to (when G learns that)
        moves = 2 + 2 * self.frames  # the objects' channels: the field and its corrections
        learned = objects > 1 and segment == "learned"  # G says which object each pixel is
        if objects:
            out = moves + (objects if learned else 0)
        else:
            out = 2 + self.frames * (3 + frame_channels) if warp else channels
        self.out = nn.Conv2d(width, out * unshuffle ** 2, 3, padding=1)
        seen = source_channels // frame_channels
        self.track = nn.Sequential(nn.Linear(2 * (seen - 1) + 4, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU(),
                                   nn.Linear(128, 2 * self.frames)) if track else None
        self.apply(init_weights)
        if track:  # starts adding nothing: the moves start as the flow's
            nn.init.zeros_(self.track[-1].weight)
        if objects:  # start as the last frame unmoved: a random first shift pushes a digit off the frame, where
            nn.init.zeros_(self.out.weight)  # no gradient brings it back and a pixel loss settles on blank frames
            nn.init.zeros_(self.out.bias)
        if learned:  # but which object a pixel is starts random: with equal shares every object would get the
            # same ink, move alike and get the same gradient, so they could never come apart
            nn.init.normal_(self.out.weight[moves * unshuffle ** 2:], std=0.1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim], past frames y [N, M·C, H, W] in [-1, 1] -> the next frames [N, K·C, H, W] in [-1, 1]."""
        if y is None:
            raise GankitError("a simvp generator predicts frames from past frames: it needs them")
        skips, h = [], self.stem(F.pixel_unshuffle(y, self.unshuffle))
        for layer in self.down:
            skips.append(h)
            h = layer(h)
        if self.noise is not None:
            h = h + self.noise(z)[:, :, None, None]
        h = self.translator(h)
        for layer, skip in zip(self.up, reversed(skips)):
            h = layer(F.interpolate(h, scale_factor=2, mode="nearest")) + skip
        raw = F.pixel_shuffle(self.out(h), self.unshuffle)
        if self.objects:
            return self._moved_objects(raw, y)
        return self._warped(raw, y) if self.warp else torch.tanh(raw)

    @property
    def frames(self) -> int:
        """K, the frames G predicts."""
        return self.shape[0] // self.frame_channels

    @staticmethod
    def _flows(velocity: torch.Tensor, corrections: torch.Tensor) -> torch.Tensor:
        """Frame k's flow [N, K, 2, H, W]: (k + 1) times the velocity [N, 2, H, W] plus its own correction
        (corrections [N, K, 2, H, W])."""
        frames = corrections.shape[1]
        steps = torch.arange(1, frames + 1, device=velocity.device, dtype=velocity.dtype).view(1, frames, 1, 1, 1)
        return steps * velocity[:, None] + corrections

    def _moved_objects(self, raw: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        """Each future frame as the last frame's objects each moved whole (`objects` of them; one moves the frame). G
        still predicts a flow per pixel; an object's move in frame k is that flow averaged over its ink, so a digit is
        shifted rigidly and cannot be smeared or faded by a flow that varies across it. With several objects each pixel
        is shared among them (see _shares); the moved objects combine by adding, clamped (Moving MNIST's
        keep the brighter pixel; see below). A shift between whole pixels is read bilinearly, which blurs it: the one
        blur left to a pixel loss, the average of two neighbouring positions. `whole_pixels` 1 rounds every move once G
        is trained (for clips rendered on the pixel grid, as Moving MNIST's are), so a moved object is an exact copy:
        sharp by construction, right or wrong by a pixel. A share p < 1 pulls each move that far toward its nearest
        whole pixel, keeping 1 - p of the blend: where G is unsure which of two pixels, a faint second copy costs less
        than a wrong guess (on moving_mnist_small p = 0.75 kept sharpness 0.83 at 11% less MSE than rounding). Training
        keeps the bilinear reads: rounding there (straight through) let the moves drift off the frame, into blank
        predictions. `bounce` folds every move back at the frame's edges (see _bounced)."""
        n, _, h, w = raw.shape
        c, frames, k = self.frame_channels, self.frames, self.objects
        flow = self._flows(raw[:, :2], raw[:, 2:2 + 2 * frames].view(n, frames, 2, h, w))  # in pixels
        ink = past[:, -c:] + 1  # the last frame, background 0: zeros pad it
        share = self._shares(raw[:, 2 + 2 * frames:], past)
        weight = share * ink.mean(1, keepdim=True)  # [N, objects, H, W]
        shift = torch.einsum("nohw,nkdhw->nokd", weight, flow) / weight.sum((2, 3)).clamp_min(1e-6)[..., None, None]
        places = None  # several objects' places in the past frames, when G reads them (the box's edges use them)
        if self.track is not None:  # one object's path by its centroid, as measured; several by block matching
            if k == 1:
                path = _track(past, c)[:, None]
            else:
                places = object_paths(_inks(past, c), weight).flip(-1)
                path = _tracks(places, weight)
            shift = shift + self.track(path).view(n, k, frames, 2)
        edges = _box_edges(weight, self.box, places) if self.box else None
        reading = self.reckon_within and not self.training
        reckoned, width = _reckoned(places, *edges, frames) if self.reckon or reading else (None, None)
        if self.reckon:  # G learns the correction to the move the past places allow
            shift = shift - reckoned
        if self.whole_pixels and not self.training:  # trained by bilinear reads, used nearer whole pixels
            shift = torch.lerp(shift, shift.round(), self.whole_pixels)
        if reading:  # where the places leave little doubt, their move; G's own where they cannot say
            shift = torch.where(width <= self.reckon_within, -reckoned, shift)
        if self.bounce:
            shift = _boxed(shift, *edges) if self.box else _bounced(shift, weight)
        shift = shift * (2 / torch.tensor([w, h], device=raw.device, dtype=raw.dtype))  # G says pixels: small steps
        theta = torch.zeros(n, k, frames, 2, 3, device=raw.device, dtype=raw.dtype)
        theta[..., 0, 0] = theta[..., 1, 1] = 1
        theta[..., :, 2] = shift
        layers = (share[:, :, None] * ink[:, None]).unsqueeze(2).expand(n, k, frames, c, h, w)
        grid = F.affine_grid(theta.flatten(0, 2), [n * k * frames, c, h, w], align_corners=False)
        moved = F.grid_sample(layers.flatten(0, 2), grid, mode=self.resample, align_corners=False,
                              padding_mode="zeros")
        # added, not the brighter kept: a pixel G has not yet given to one object keeps all its ink (shares sum to
        # 1), and strokes that overlap saturate at the clamp, near Moving MNIST's brighter pixel
        moved = moved.view(n, k, frames, c, h, w).sum(1) - 1
        return moved.clamp(-1, 1).reshape(n, frames * c, h, w)

    def _shares(self, logits: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        """Which object each pixel of the last frame is, [N, objects, H, W] summing to 1: all of one, G's softmax
        over `logits`, or with segment "motion" told apart by how the last frame moved (nn.motion)."""
        if self.objects == 1:
            return past.new_ones(past.shape[0], 1, *past.shape[-2:])
        if self.segment == "learned":
            return torch.softmax(logits, 1)
        ink = _inks(past[:, -2 * self.frame_channels:], self.frame_channels)
        return motion_shares(ink[:, 1], ink[:, 0], self.objects)

    def _warped(self, raw: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        """Each future frame as the last past frame moved along a flow, blended by a mask with pixels drawn
        afresh (where something appears that the last frame did not show). Frame k's flow is (k + 1) times
        one velocity field plus its own correction: the velocity learnt from the next frame, where a
        bilinear warp's gradient reaches, carries to the far frames, and the corrections bend it at a bounce.
        Moved pixels keep their sharpness, which a pixel loss alone would blur (DVF, Liu et al. 2017)."""
        n, _, h, w = raw.shape
        c, frames = self.frame_channels, self.frames
        per = raw[:, 2:].view(n, frames, 3 + c, h, w)
        flow = self._flows(raw[:, :2], per[:, :, :2]).flatten(0, 1).permute(0, 2, 3, 1)  # [N·K, H, W, 2]
        base = F.affine_grid(torch.eye(2, 3, device=raw.device, dtype=raw.dtype)[None].expand(n * frames, 2, 3),
                             [n * frames, c, h, w], align_corners=False)
        ink = (past[:, -c:] + 1).repeat_interleave(frames, 0)  # the last frame, background 0: zeros pad it
        moved = F.grid_sample(ink, base + flow, mode=self.resample, align_corners=False, padding_mode="zeros") - 1
        moved = moved.clamp(-1, 1)  # bicubic overshoots an edge a little; images stay in [-1, 1]
        mask = torch.sigmoid(per[:, :, 2:3]).flatten(0, 1)
        drawn = torch.tanh(per[:, :, 3:]).flatten(0, 1)
        return (mask * moved + (1 - mask) * drawn).view(n, frames * c, h, w)
