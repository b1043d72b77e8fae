"""The pix2pix networks (groundwork for the image-to-image task): shapes, the U-Net's skips, the PatchGAN's
patches, and clear errors."""
import pytest
import torch

from gankit.core.errors import GankitError
from gankit.models import pix2pix


@pytest.mark.parametrize("resolution, patches", [(28, 12 * 12), (32, 14 * 14), (64, 30 * 30)])
def test_unet_maps_a_source_to_an_image_and_patchgan_scores_patches(resolution, patches):
    torch.manual_seed(0)
    G = pix2pix.Generator((3, resolution, resolution), z_dim=8, width=8, source_channels=1)
    D = pix2pix.Discriminator((3, resolution, resolution), width=8, source_channels=1)
    source = torch.rand(4, 1, resolution, resolution) * 2 - 1
    out = G(torch.randn(4, 8), source)
    assert out.shape == (4, 3, resolution, resolution) and out.abs().max() <= 1
    logits = D(out, source)
    assert logits.shape == (4, patches)


def test_the_unet_output_follows_the_source_through_its_skips():
    torch.manual_seed(0)
    G = pix2pix.Generator((1, 32, 32), z_dim=0, width=8).eval()
    source = torch.zeros(1, 1, 32, 32)
    moved = source.clone()
    moved[..., 0:4, 0:4] = 1.0  # a change in one corner of the source ...
    change = (G(torch.zeros(1, 0), moved) - G(torch.zeros(1, 0), source)).abs()[0, 0]
    assert change[:8, :8].mean() > 3 * change[16:, 16:].mean()  # ... changes that corner of the output most


def test_noise_varies_the_output_and_super_resolution_sources_are_resized():
    torch.manual_seed(0)
    G = pix2pix.Generator((1, 32, 32), z_dim=4, width=8).eval()
    source = torch.rand(2, 1, 32, 32)
    assert not torch.allclose(G(torch.zeros(2, 4), source), G(torch.ones(2, 4), source))
    D = pix2pix.Discriminator((1, 32, 32), width=8)
    assert D(torch.rand(2, 1, 32, 32), torch.rand(2, 1, 8, 8)).shape == (2, 14 * 14)


def test_pix2pix_networks_say_what_they_need():
    G = pix2pix.Generator((1, 32, 32), width=8)
    with pytest.raises(GankitError, match="needs the source"):
        G(torch.zeros(1, 8))
    with pytest.raises(GankitError, match="no packs and no class labels"):
        pix2pix.Discriminator((1, 32, 32), pack=2)
    with pytest.raises(GankitError, match="model.d.layers must be between 1 and 3 at 32 px"):
        pix2pix.Discriminator((1, 32, 32), layers=5)


@pytest.mark.parametrize("layers, field", [(1, 16), (2, 34)])
def test_each_patch_logit_sees_a_square_of_the_documented_size(layers, field):
    D = pix2pix.Discriminator((1, 64, 64), width=4, norm="none", layers=layers)
    x = torch.zeros(1, 1, 64, 64, requires_grad=True)
    logits = D(x, torch.zeros(1, 1, 64, 64))
    side = int(logits.shape[1] ** 0.5)
    logits.view(side, side)[side // 2, side // 2].backward()
    rows, cols = x.grad[0, 0].abs().sum(1).nonzero(), x.grad[0, 0].abs().sum(0).nonzero()
    assert int(rows.max() - rows.min()) + 1 == field == int(cols.max() - cols.min()) + 1
