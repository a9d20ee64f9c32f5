"""Speed of ``illusioncraft evaluate`` (images/s through the extractor and every metric), and, for the Inception
extractor where torch-fidelity imports (``tox -e reference``'s environment), torch-fidelity on the same images
with the same weights file: its time and its values, which must equal ours to 1e-3 relative.

Both sets are PNG folders written here: ``--n`` real images (scikit-learn's digits, enlarged to ``--size`` px,
repeated with one-pixel shifts) and ``--n`` generated stand-ins (the same digits with seeded noise).

    python benchmarks/evaluate.py --extractor digits_classifier --n 2000
    python benchmarks/evaluate.py --extractor inception --weights pt_inception-2015-12-05-6726825d.pth --n 500 \
        --accelerator gpu     # the same script on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits

from illusioncraft.evaluate import evaluate, parse_request

PAIRS = {"fid": "frechet_inception_distance", "kid_mean": "kernel_inception_distance_mean",
         "is_mean": "inception_score_mean", "precision": "precision", "recall": "recall"}


def write_sets(root: Path, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """PNG folders ``real/train/{a,b}`` (image_folder's layout) and ``fake/``; returns both as uint8 (N, 3, S, S)."""
    digits = load_digits().images / 16.0  # (1797, 8, 8)
    rng = np.random.default_rng(0)
    sets = {}
    for name in ("real", "fake"):
        images = []
        for i in range(n):
            picture = Image.fromarray((digits[i % len(digits)] * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
            array = np.roll(np.asarray(picture, dtype=np.float64), shift=(i // len(digits)) % 3 - 1, axis=1)
            if name == "fake":
                array = np.clip(array + rng.normal(scale=25.0, size=array.shape), 0, 255)
            images.append(np.repeat(array.round().astype(np.uint8)[:, :, None], 3, axis=2))
        sets[name] = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    for i, image in enumerate(sets["real"]):
        folder = root / "real" / split_of(i) / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
    (root / "fake").mkdir(parents=True)
    for i, image in enumerate(sets["fake"]):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(root / "fake" / f"{i:05d}.png")
    return sets["real"], sets["fake"]


def split_of(i: int) -> str:
    return "train" if i >= 8 else ("val", "test")[i % 2]  # a few images keep val/test non-empty


def ours(root: Path, args: argparse.Namespace, metrics: str) -> tuple[dict, float]:
    extractor_args = f"{{weights_path: {args.weights}, allow_other_weights: {str(args.allow_other_weights).lower()}}}"
    argv = ["--images", str(root / "fake"), "--data", "image_folder", "--data-args",
            f"{{root: {root / 'real'}, image_size: {args.size}}}", "--metrics", metrics, "--extractor", args.extractor,
            "--kid-subsets", "10", "--kid-subset-size", str(min(1000, args.n // 2)), "--seed", "2020", "--no-cache",
            "--no-progress", "--batch-size", str(args.batch_size), "--accelerator", args.accelerator,
            "--devices", args.devices, *(["--extractor-args", extractor_args] if args.extractor == "inception" else [])]
    start = time.perf_counter()
    result = evaluate(parse_request(argv))
    return result["metrics"], time.perf_counter() - start


def torch_fidelity_run(real: torch.Tensor, fake: torch.Tensor, args: argparse.Namespace) -> tuple[dict, float]:
    import torch_fidelity

    class Images(torch.utils.data.Dataset):
        def __init__(self, pixels: torch.Tensor) -> None:
            self.pixels = pixels

        def __len__(self) -> int:
            return len(self.pixels)

        def __getitem__(self, i: int) -> torch.Tensor:
            return self.pixels[i]

    # image_folder's training split in its order: class folder "a" (odd i) before "b", files by name
    train = sorted((i for i in range(len(real)) if split_of(i) == "train"), key=lambda i: (i % 2 == 0, i))
    start = time.perf_counter()
    values = torch_fidelity.calculate_metrics(
        input1=Images(fake), input2=Images(real[train]), cuda=args.accelerator == "gpu", fid=True, kid=True,
        feature_extractor="inception-v3-compat",
        isc=True, prc=True, feature_extractor_weights_path=args.weights, kid_subsets=10,
        kid_subset_size=min(1000, args.n // 2), samples_shuffle=False, rng_seed=2020, cache=False, verbose=False,
        batch_size=args.batch_size, save_cpu_ram=True)
    return values, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extractor", default="digits_classifier", choices=["digits_classifier", "inception"])
    parser.add_argument("--weights", help="Inception weights file (pt_inception-2015-12-05-6726825d.pth)")
    parser.add_argument("--allow-other-weights", action="store_true", help="time with another weights file")
    parser.add_argument("--n", type=int, default=2000, help="images in each set")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--devices", default="1")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, accelerator {args.accelerator}")
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        real, fake = write_sets(root, args.n, args.size)
        n_real = sum(split_of(i) == "train" for i in range(args.n))
        metrics = "fid,kid,is,prdc"
        rows = [("illusioncraft evaluate", *ours(root, args, metrics))]
        if args.extractor == "inception":
            try:
                rows.append(("torch-fidelity", *torch_fidelity_run(real, fake, args)))
            except ImportError:
                print("torch-fidelity does not import here (run in tox -e reference's environment to compare)")
    print(f"\n{args.n} generated + {n_real} real images of {args.size} px, extractor {args.extractor}")
    print("| path | s | images/s | " + " | ".join(PAIRS) + " |")
    print("|---|---|---|" + "---|" * len(PAIRS))
    for name, values, seconds in rows:
        keyed = {key: values.get(key, values.get(theirs)) for key, theirs in PAIRS.items()}
        print(f"| {name} | {seconds:.1f} | {(args.n + n_real) / seconds:,.1f} | "
              + " | ".join(f"{v:.6g}" for v in keyed.values()) + " |")
    if len(rows) == 2:
        ours_values, theirs_values = rows[0][1], rows[1][1]
        differences = {key: abs(ours_values[key] - theirs_values[t]) / max(abs(theirs_values[t]), 1e-12)
                       for key, t in PAIRS.items()}
        print("relative differences:", json.dumps({k: f"{v:.1e}" for k, v in differences.items()}))
        print("equal to 1e-3:", all(v <= 1e-3 for v in differences.values()))


if __name__ == "__main__":
    main()
