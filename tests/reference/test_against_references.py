"""IllusionCraft's Inception features and scores against the reference implementations, on the same images and
the same random-weights file: torch-fidelity (features, FID, KID, IS, precision/recall), prdc (density,
coverage) and clean-fid (the clean resize). Runs in ``tox -e reference``, whose torch build carries torchvision."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

torch_fidelity = pytest.importorskip("torch_fidelity")
prdc = pytest.importorskip("prdc")
cleanfid_resize = pytest.importorskip("cleanfid.resize")

from standard_files import write_random_inception_weights  # noqa: E402
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3  # noqa: E402

from illusioncraft import registry  # noqa: E402
from illusioncraft.cli import main  # noqa: E402
from illusioncraft.metrics.resize import bicubic_like_clean_fid  # noqa: E402

RELATIVE = 1e-3
N_FAKE, N_REAL, SIZE = 20, 24, 32


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_random_inception_weights(tmp_path_factory.mktemp("weights") / "random.pth")


@pytest.fixture(scope="module")
def images():
    """Two sets of uint8 images (N, 3, 32, 32): smooth random blobs, the generated set shifted in colour."""
    generator = torch.Generator().manual_seed(0)
    low = torch.rand(N_FAKE + N_REAL, 3, 4, 4, generator=generator)
    smooth = torch.nn.functional.interpolate(low, size=(SIZE, SIZE), mode="bicubic", align_corners=False)
    smooth[:N_FAKE, 0] += 0.3
    pixels = (smooth.clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels[:N_FAKE], pixels[N_FAKE:]


def close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= RELATIVE * max(abs(theirs), 1e-12)


def test_features_and_logits_equal_torch_fidelitys(weights, images):
    theirs_net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                             feature_extractor_weights_path=str(weights))  # strict load: same keys
    ours = registry.build("feature_extractor", "inception", weights_path=str(weights), allow_other_weights=True)
    batch = images[0][:6]
    their_features, their_logits = theirs_net(batch)
    our_features, our_logits = ours.features_and_logits(batch)
    for mine, theirs in ((our_features, their_features), (our_logits, their_logits)):
        assert float((mine - theirs).abs().max()) <= RELATIVE * float(theirs.abs().max())


def save_pngs(pixels: torch.Tensor, folder) -> None:
    folder.mkdir(parents=True)
    for i, image in enumerate(pixels):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")


class UInt8Dataset(torch.utils.data.Dataset):
    def __init__(self, pixels: torch.Tensor) -> None:
        self.pixels = pixels

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.pixels[index]


def test_fid_kid_is_and_precision_recall_equal_torch_fidelitys(tmp_path, weights, images):
    fake, real = images
    save_pngs(fake, tmp_path / "fake")
    save_pngs(real, tmp_path / "real" / "train" / "a")
    for split in ("val", "test"):
        save_pngs(real[:2], tmp_path / "real" / split / "a")
    for split in ("train", "val", "test"):
        save_pngs(real[:2], tmp_path / "real" / split / "b")  # image_folder wants two classes
    theirs = torch_fidelity.calculate_metrics(
        input1=UInt8Dataset(fake), input2=UInt8Dataset(torch.cat([real, real[:2]])), cuda=False, fid=True, kid=True,
        feature_extractor="inception-v3-compat",
        isc=True, prc=True, feature_extractor_weights_path=str(weights), kid_subsets=10, kid_subset_size=12,
        samples_shuffle=False, rng_seed=2020, cache=False, verbose=False, save_cpu_ram=True)
    out = tmp_path / "ours.json"
    main(["evaluate", "--images", str(tmp_path / "fake"), "--data", "image_folder", "--data-args",
          f"{{root: {tmp_path / 'real'}, image_size: {SIZE}}}", "--metrics", "fid,kid,is,prdc", "--extractor",
          "inception", "--extractor-args", f"{{weights_path: {weights}, allow_other_weights: true}}",
          "--kid-subsets", "10", "--kid-subset-size", "12", "--seed", "2020", "--no-cache", "--no-progress",
          "--out", str(out)])
    ours = json.loads(out.read_text())["metrics"]
    pairs = {"fid": "frechet_inception_distance", "kid_mean": "kernel_inception_distance_mean",
             "kid_std": "kernel_inception_distance_std", "is_mean": "inception_score_mean",
             "is_std": "inception_score_std", "precision": "precision", "recall": "recall"}
    wrong = {name: (ours[name], theirs[key]) for name, key in pairs.items() if not close(ours[name], theirs[key])}
    assert not wrong, wrong


def test_density_and_coverage_equal_prdcs(weights, images):
    extractor = registry.build("feature_extractor", "inception", weights_path=str(weights), allow_other_weights=True)
    fake, real = (extractor(pixels) for pixels in images)
    from illusioncraft.metrics.prdc import density_coverage

    expected = prdc.compute_prdc(real_features=real.numpy(), fake_features=fake.numpy(), nearest_k=5)
    density, coverage = density_coverage(real, fake, k=5)
    assert close(density, expected["density"]) and close(coverage, expected["coverage"])


def test_clean_resize_equals_clean_fids():
    resize = cleanfid_resize.make_resizer("PIL", False, "bicubic", (299, 299))
    pixels = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    ours = bicubic_like_clean_fid(pixels, 299)
    for image, mine in zip(pixels, ours, strict=True):
        theirs = resize(image.permute(1, 2, 0).numpy())  # (299, 299, 3) float32
        np.testing.assert_allclose(mine.permute(1, 2, 0).numpy(), theirs, rtol=0, atol=1e-4)

