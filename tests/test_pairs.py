"""Image pairs for image-to-image tasks: drawings made from images, the super-resolution degradation, and
folders of pairs."""
import numpy as np
import pytest
import torch
from PIL import Image

from gankit.core.errors import GankitError
from gankit.data.pairs import Sketch, downscale, read_pair_folder, sketch_edges


def _square_image(size: int = 32, speck: bool = False) -> torch.Tensor:
    """A bright square on a dark background (uint8 [1, 1, size, size]), optionally with a one-pixel speck."""
    x = np.full((size, size), 40, np.uint8)
    x[8:24, 8:24] = 220
    if speck:
        x[2, 28] = 255
    return torch.from_numpy(x)[None, None]


def test_a_drawing_is_thin_dark_strokes_on_white_along_the_outline():
    drawing = sketch_edges(_square_image(speck=True))[0, 0].numpy()
    ink = drawing < 128
    assert drawing.dtype == np.uint8 and set(np.unique(drawing)) <= {0, 255}
    outline = np.zeros_like(ink)
    outline[6:26, 6:26] = True
    outline[10:22, 10:22] = False  # a band two pixels either side of the square's border
    assert ink.sum() > 0.8 * 4 * 16 and (ink & outline).sum() / ink.sum() > 0.95
    assert ink.sum() < 2 * 4 * 16  # one pixel wide: about the outline's length, not its area
    assert not ink[0:5, 25:32].any()  # the speck is not a stroke


def test_drawing_styles_thicken_blur_and_shake_the_strokes():
    image = _square_image()
    plain = (sketch_edges(image)[0, 0] < 128).sum()
    thick = (sketch_edges(image, Sketch(thickness=3))[0, 0] < 128).sum()
    assert 2 * plain < thick < 4 * plain
    soft = sketch_edges(image, Sketch(blur=1.0))[0, 0]
    assert ((soft > 0) & (soft < 255)).sum() > plain  # grey, soft edges around the strokes
    shaky = sketch_edges(image, Sketch(jitter=2.0), seed=1)[0, 0] < 128
    assert not torch.equal(shaky, sketch_edges(image)[0, 0] < 128)
    assert torch.equal(shaky, sketch_edges(image, Sketch(jitter=2.0), seed=1)[0, 0] < 128)  # seeded


def test_downscale_is_antialiased_bicubic_and_the_factor_must_divide():
    stripes = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    stripes[..., ::2] = 255  # one-pixel stripes: antialiasing averages them to grey, point sampling would not
    small = downscale(stripes, 4)
    assert small.shape == (1, 1, 8, 8) and small.dtype == torch.uint8
    assert 100 < small.float().mean() < 155 and small.float().std() < 20
    flat = torch.full((2, 3, 16, 16), 77, dtype=torch.uint8)
    assert torch.equal(downscale(flat, 2), torch.full((2, 3, 8, 8), 77, dtype=torch.uint8))
    with pytest.raises(GankitError, match="3 does not divide 32×32"):
        downscale(stripes, 3)


def test_pairs_from_a_and_b_folders_or_side_by_side_images(tmp_path):
    for side, value in (("A", 10), ("B", 200)):
        (tmp_path / "ab" / side).mkdir(parents=True)
        for name in ("one", "two"):
            Image.fromarray(np.full((20, 20, 3), value, np.uint8)).save(tmp_path / "ab" / side / f"{name}.png")
    sources, targets = read_pair_folder(tmp_path / "ab", 16)
    assert sources.shape == targets.shape == (2, 3, 16, 16)
    assert int(sources.float().mean()) == 10 and int(targets.float().mean()) == 200
    (tmp_path / "aligned").mkdir()
    side_by_side = np.concatenate([np.full((20, 20), 30, np.uint8), np.full((20, 20), 220, np.uint8)], axis=1)
    Image.fromarray(side_by_side).save(tmp_path / "aligned" / "pair.jpg")
    sources, targets = read_pair_folder(tmp_path / "aligned", 8, mode="L")
    assert sources.shape == (1, 1, 8, 8) and abs(sources.float().mean() - 30) < 3
    assert abs(targets.float().mean() - 220) < 3
    (tmp_path / "ab" / "B" / "two.png").unlink()
    with pytest.raises(GankitError, match="1 images of A/ and B/ have no partner of the same name"):
        read_pair_folder(tmp_path / "ab", 16)
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "aligned" / "square.png")
    with pytest.raises(GankitError, match="twice as wide as high"):
        read_pair_folder(tmp_path / "aligned", 8)
