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


def test_srresnet_starts_as_bicubic_and_its_pixelshuffle_starts_without_checkerboards():
    from gankit.models import srresnet

    torch.manual_seed(0)
    G = srresnet.Generator((1, 32, 32), width=8, depth=2, factor=4).eval()
    small = torch.rand(2, 1, 8, 8) * 2 - 1
    bicubic = torch.nn.functional.interpolate(small, scale_factor=4, mode="bicubic", align_corners=False)
    assert torch.allclose(G(torch.zeros(2, 0), small), bicubic.clamp(-1, 1))
    conv = torch.nn.Conv2d(3, 3 * 4, 3, padding=1)
    srresnet.icnr_(conv.weight, 2)
    torch.nn.init.zeros_(conv.bias)
    up = torch.nn.PixelShuffle(2)(conv(torch.randn(1, 3, 6, 6)))
    blocks = up.unfold(2, 2, 2).unfold(3, 2, 2)  # [1, 3, 6, 6, 2, 2]: each 2×2 sub-pixel block
    assert torch.allclose(blocks, blocks[..., :1, :1].expand_as(blocks))
    assert up.std() > 0.1


def test_srresnet_learns_detail_beyond_bicubic():
    from gankit.models import srresnet
    from gankit.data.pairs import downscale

    torch.manual_seed(0)
    grid = torch.linspace(-1, 1, 32)
    stripes = torch.stack([torch.sin(grid[None, :] * f + p).expand(32, 32) for f, p in
                           [(6 + i % 5, i / 3) for i in range(16)]])[:, None]  # stripes bicubic blurs
    target = stripes.clamp(-1, 1)
    small = downscale(((target + 1) * 127.5).round().byte(), 4).float() / 127.5 - 1
    G = srresnet.Generator((1, 32, 32), width=8, depth=1, factor=4)
    opt = torch.optim.Adam(G.parameters(), lr=2e-3)
    bicubic_error = (G(torch.zeros(16, 0), small) - target).abs().mean().item()
    for _ in range(60):
        loss = (G(torch.zeros(16, 0), small) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    learned = (G.eval()(torch.zeros(16, 0), small) - target).abs().mean().item()
    assert 0.01 * bicubic_error < learned < 0.6 * bicubic_error


def test_srresnet_refuses_a_factor_that_does_not_divide_the_size():
    from gankit.models import srresnet

    with pytest.raises(GankitError, match="3 at 32 px"):
        srresnet.Generator((1, 32, 32), factor=3)
    with pytest.raises(GankitError, match="needs the low-resolution one"):
        srresnet.Generator((1, 32, 32), width=8, depth=1)(torch.zeros(1, 0))


def test_deeper_unet_levels_pad_to_see_the_whole_drawing_and_crop_back():
    """model.g.levels 5 at 28 px pads to 32 and goes down to 1×1: the far corner of the output depends on the
    first corner of the drawing, which the default two levels (down to 7×7) cannot see."""
    torch.manual_seed(0)
    for levels, reaches in ((0, False), (5, True)):
        G = pix2pix.Generator((1, 28, 28), z_dim=0, width=8, levels=levels).eval()
        source = (torch.rand(1, 1, 28, 28) * 2 - 1).requires_grad_(True)
        out = G(torch.zeros(1, 0), source)
        assert out.shape == (1, 1, 28, 28)
        out[0, 0, 27, 27].backward()
        assert bool(source.grad[0, 0, :4, :4].abs().sum() > 0) == reaches, levels
    assert pix2pix.Generator((1, 28, 28), width=8, levels=5).padded == 32
    assert pix2pix.Generator((1, 32, 32), width=8, levels=0).padded == 32
    with pytest.raises(GankitError, match="model.g.levels must be between 1 and 5 at 28 px, or 0 for 2"):
        pix2pix.Generator((1, 28, 28), width=8, levels=6)


def test_pair_feature_matching_compares_each_output_with_its_own_target_through_ds_hidden_layers():
    from gankit.losses.matching import pair_feature_matching
    torch.manual_seed(0)
    D = pix2pix.Discriminator((1, 32, 32), width=8, source_channels=1, norm="none", layers=2)
    source = (torch.rand(1, 1, 32, 32) * 2 - 1).expand(4, -1, -1, -1)  # one source for every pair
    real = torch.rand(4, 1, 32, 32) * 2 - 1
    features = D.pair_features(real, source)
    assert [f.shape[1:] for f in features] == [(8, 16, 16), (16, 8, 8), (32, 7, 7)]  # two strided, one not
    term = pair_feature_matching(D)
    assert term(real.clone(), real, source).item() == pytest.approx(0.0, abs=1e-12)
    # each output against its own target: the targets in another order have the same batch means of D's
    # features (all that Salimans et al.'s term compares), but every pair differs
    swapped = D.pair_features(real.flip(0), source)
    for f, t in zip(swapped, features):
        torch.testing.assert_close(f.mean(0), t.mean(0))
    by_hand = sum((f - t).abs().mean() for f, t in zip(swapped, features)) / 3
    assert term(real.flip(0), real, source).item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert by_hand.item() > 0.01
    fake = (real + 0.1).requires_grad_()
    D.requires_grad_(False)  # as in g_step: the gradient reaches G's output, not D
    loss = term(fake, real, source)
    expected = sum((f - t).abs().mean() for f, t in zip(D.pair_features(real + 0.1, source), features)) / 3
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert fake.grad.abs().sum() > 0


def test_an_unpaired_patchgan_judges_the_image_alone_as_srgans_d_does():
    torch.manual_seed(0)
    D = pix2pix.Discriminator((3, 32, 32), width=8, source_channels=3, paired=False)
    assert D.net[0].in_channels == 3  # the image's channels only; paired, the source's too
    assert pix2pix.Discriminator((3, 32, 32), width=8, source_channels=3).net[0].in_channels == 6
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)  # two different sources: the same verdict
    torch.testing.assert_close(D(image, a), D(image, b))
    assert not torch.allclose(D(image, a), D(image.flip(0), a))  # the image still decides it
