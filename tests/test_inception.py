"""The FID Inception extractor: the weights file (its layout and SHA-256), and the two resize modes against their
definitions. Its features against torch-fidelity's are in tests/reference (tox -e reference)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image
from standard_files import write_random_inception_weights

from illusioncraft import registry
from illusioncraft.errors import ConfigError
from illusioncraft.metrics.inception import WEIGHTS_SHA256
from illusioncraft.metrics.resize import bicubic_like_clean_fid, bilinear_like_tensorflow1, quantise, to_inception_input


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_random_inception_weights(tmp_path_factory.mktemp("inception") / "random.pth")


def test_the_known_file_hash_is_checked_and_other_weights_need_saying_so(weights):
    assert WEIGHTS_SHA256.startswith("6726825d")  # torch.hub's prefix in the file name
    with pytest.raises(ConfigError, match=r"has SHA-256 [0-9a-f]{16}\.\.\., not the FID Inception file "
                                          r"pt_inception-2015-12-05-6726825d.pth .*allow_other_weights: true"):
        registry.build("feature_extractor", "inception", weights_path=str(weights))
    extractor = registry.build("feature_extractor", "inception", weights_path=str(weights), allow_other_weights=True)
    assert extractor.weights_hash == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (extractor.num_features, extractor.num_classes, extractor.input_size) == (2048, 1008, 299)


def test_the_extractor_gives_pool_features_and_logits_without_the_bias(weights):
    extractor = registry.build("feature_extractor", "inception", weights_path=str(weights), allow_other_weights=True)
    images = torch.rand(2, 3, 24, 24)
    features, logits = extractor.features_and_logits(images)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    fc = extractor.network.network.fc
    torch.testing.assert_close(logits, features @ fc.weight.T)  # the Inception Score's input: no bias
    assert not torch.allclose(features[0], features[1])
    grey = extractor(images[:, :1])  # one channel is read as grey RGB
    torch.testing.assert_close(grey, extractor(images[:, :1].expand(-1, 3, -1, -1)))


def test_bad_weights_files_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="needs weights_path"):
        registry.build("feature_extractor", "inception")
    with pytest.raises(ConfigError, match=r"weights file '.*none.pth' does not exist"):
        registry.build("feature_extractor", "inception", weights_path=str(tmp_path / "none.pth"))
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ConfigError, match="does not hold the FID Inception state dict: Missing key"):
        registry.build("feature_extractor", "inception", weights_path=str(tmp_path / "other.pth"),
                       allow_other_weights=True)
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ConfigError, match=r"cannot read feature extractor 'inception': weights file '.*junk.pth'"):
        registry.build("feature_extractor", "inception", weights_path=str(tmp_path / "junk.pth"), allow_other_weights=True)


def test_images_are_quantised_to_8_bits_by_rounding():
    images = torch.tensor([0.0, 0.5 / 255, 0.51 / 255, 1.0, 1.2]).view(1, 1, 1, 5)
    assert quantise(images).flatten().tolist() == [0, 0, 1, 255, 255] * 3  # grey repeated as RGB


def tensorflow1_bilinear_by_hand(image: np.ndarray, size: int) -> np.ndarray:
    """TF 1.x resize_bilinear, align_corners=False: output (i, j) samples input (i h / size, j w / size)."""
    h, w = image.shape
    out = np.empty((size, size))
    for i in range(size):
        y = i * h / size
        y0, y1, dy = int(y), min(int(y) + 1, h - 1), y - int(y)
        for j in range(size):
            x = j * w / size
            x0, x1, dx = int(x), min(int(x) + 1, w - 1), x - int(x)
            top = image[y0, x0] + (image[y0, x1] - image[y0, x0]) * dx
            bottom = image[y1, x0] + (image[y1, x1] - image[y1, x0]) * dx
            out[i, j] = top + (bottom - top) * dy
    return out


@pytest.mark.parametrize(("size_in", "size_out"), [(5, 13), (16, 11)])
def test_legacy_resize_is_tensorflow1_bilinear(size_in, size_out):
    image = np.random.default_rng(size_in).integers(0, 256, size=(size_in, size_in)).astype(np.float64)
    ours = bilinear_like_tensorflow1(torch.from_numpy(image).float().view(1, 1, size_in, size_in), size_out)
    np.testing.assert_allclose(ours[0, 0].numpy(), tensorflow1_bilinear_by_hand(image, size_out), atol=1e-3)


def test_clean_resize_is_pillow_bicubic_on_float_channels():
    pixels = torch.randint(0, 256, (1, 3, 9, 9), dtype=torch.uint8)
    ours = bicubic_like_clean_fid(pixels, 20)
    for c in range(3):
        channel = Image.fromarray(pixels[0, c].numpy().astype(np.float32)).resize((20, 20), Image.BICUBIC)
        np.testing.assert_array_equal(ours[0, c].numpy(), np.clip(np.asarray(channel), 0, 255))


def test_both_modes_give_the_networks_input_range():
    images = torch.rand(2, 3, 10, 10)
    for mode in ("legacy", "clean"):
        x = to_inception_input(images, mode, size=17)
        assert x.shape == (2, 3, 17, 17) and -1 <= float(x.min()) and float(x.max()) <= 127 / 128
    assert not torch.allclose(to_inception_input(images, "legacy", 17), to_inception_input(images, "clean", 17))


def test_digits_classifier_clean_resize_reads_pillow_bicubic_images():
    legacy = registry.build("feature_extractor", "digits_classifier")
    clean = registry.build("feature_extractor", "digits_classifier", resize="clean")
    images = torch.rand(3, 1, 32, 32)
    pixels = (images * 255).round().numpy().astype(np.float32)
    small = np.stack([np.asarray(Image.fromarray(p[0]).resize((16, 16), Image.BICUBIC)).clip(0, 255) for p in pixels])
    expected = legacy(torch.from_numpy(small / 255).float().unsqueeze(1))  # at 16 px the extractor resizes nothing
    torch.testing.assert_close(clean(images), expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(legacy(images), clean(images))
