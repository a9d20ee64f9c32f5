"""Tiny files in exactly the formats the standard datasets ship in (MNIST's IDX, CIFAR's binary and python
batches, aligned CelebA, StackGAN's CUB layout) and a random-weights file in the FID Inception's key layout."""

from __future__ import annotations

import gzip
import math
import pickle
import struct
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: magic (0x0803 images / 0x0801 labels), big-endian dimensions, then the unsigned bytes."""
    magic = 0x00000803 if array.ndim == 3 else 0x00000801
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_mnist(root: Path, n_train: int = 20, n_test: int = 10, gz: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """The four MNIST files; returns the arrays written (images (N, 28, 28), labels (N,))."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{prefix}_images"] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        arrays[f"{prefix}_labels"] = np.arange(n, dtype=np.uint8) % 10
        for kind, suffix in (("images", "idx3-ubyte"), ("labels", "idx1-ubyte")):
            data = idx_bytes(arrays[f"{prefix}_{kind}"])
            path = root / f"{prefix}-{kind}-{suffix}"
            if gz:
                path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
            else:
                path.write_bytes(data)
    return arrays


def cifar_arrays(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8), np.arange(n) % classes


def write_cifar10_binary(root: Path, per_batch: int = 4, n_test: int = 6) -> dict[str, np.ndarray]:
    """``cifar-10-batches-bin/``: five data batches, a test batch (label byte + 3,072 pixel bytes) and the names."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    written = {}
    for i, name in enumerate([f"data_batch_{b}.bin" for b in range(1, 6)] + ["test_batch.bin"]):
        images, labels = cifar_arrays(n_test if name == "test_batch.bin" else per_batch, 10, seed=i)
        records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(labels), -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
        written[name] = images
    (folder / "batches.meta.txt").write_text("\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog",
                                                        "frog", "horse", "ship", "truck"]) + "\n\n")
    return written


def write_cifar100_binary(root: Path, n_train: int = 12, n_test: int = 6) -> dict[str, np.ndarray]:
    """``cifar-100-binary/``: train.bin, test.bin (coarse byte, fine byte, pixels) and the two name lists."""
    folder = root / "cifar-100-binary"
    folder.mkdir(parents=True)
    written = {}
    for i, (name, n) in enumerate((("train.bin", n_train), ("test.bin", n_test))):
        images, fine = cifar_arrays(n, 100, seed=10 + i)
        coarse = fine // 5
        records = np.concatenate([coarse.astype(np.uint8)[:, None], fine.astype(np.uint8)[:, None],
                                  images.reshape(n, -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
        written[name], written[f"{name}_fine"], written[f"{name}_coarse"] = images, fine, coarse
    (folder / "fine_label_names.txt").write_text("\n".join(f"fine{i}" for i in range(100)))
    (folder / "coarse_label_names.txt").write_text("\n".join(f"coarse{i}" for i in range(20)))
    return written


def write_cifar10_python(root: Path, per_batch: int = 4, n_test: int = 6) -> dict[str, np.ndarray]:
    """``cifar-10-batches-py/``: pickled dictionaries with byte-string keys (protocol 2, as the original)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    written = {}
    for i, name in enumerate([f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]):
        images, labels = cifar_arrays(n_test if name == "test_batch" else per_batch, 10, seed=20 + i)
        batch = {b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": images.reshape(len(labels), -1),
                 b"filenames": [f"{name}_{j}.png".encode() for j in range(len(labels))]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        written[name] = images
    meta = {b"label_names": [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                    "horse", "ship", "truck")], b"num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return written


def write_celeba(root: Path, n: int = 9) -> list[str]:
    """``img_align_celeba/`` (178x218 JPEG-named PNGs), ``list_eval_partition.txt`` and ``list_attr_celeba.txt``."""
    folder = root / "img_align_celeba"
    folder.mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        pixels = np.zeros((218, 178, 3), dtype=np.uint8)
        pixels[20:198, :, 0] = 25 * i  # the centred 178x178 square is red; the bands above and below are green
        pixels[:20, :, 1] = pixels[198:, :, 1] = 255
        Image.fromarray(pixels).save(folder / name, format="PNG")
    (root / "list_eval_partition.txt").write_text("".join(f"{name} {i % 3}\n" for i, name in enumerate(names)))
    attributes = ["Male", "Smiling"]
    rows = [f"{name} {1 if i % 2 else -1} {1 if i % 3 == 0 else -1}" for i, name in enumerate(names)]
    (root / "list_attr_celeba.txt").write_text("\n".join([str(n), " ".join(attributes), *rows]) + "\n")
    return names


STACKGAN_SPLITS = {"train": ["001.Black_footed_Albatross/a_1", "001.Black_footed_Albatross/a_2",
                             "002.Laysan_Albatross/b_1", "002.Laysan_Albatross/b_2"],
                   "test": ["003.Sooty_Albatross/c_1", "004.Groove_billed_Ani/d_1"]}


def write_stackgan_layout(root: Path, embedding_dim: int = 16) -> dict[str, tuple[int, int, int, int]]:
    """StackGAN's CUB layout (pickles written by Python 2's protocol); returns each key's bounding box."""
    cub = root / "CUB_200_2011"
    boxes, image_lines, box_lines = {}, [], []
    rng = np.random.default_rng(0)
    for split, keys in STACKGAN_SPLITS.items():
        (root / split).mkdir(parents=True)
        (root / split / "filenames.pickle").write_bytes(pickle.dumps(keys, protocol=2))
        classes = [int(key[:3]) for key in keys]
        (root / split / "class_info.pickle").write_bytes(pickle.dumps(classes, protocol=2))
        embeddings = rng.normal(size=(len(keys), 10, embedding_dim)).astype(np.float32)
        (root / split / "char-CNN-RNN-embeddings.pickle").write_bytes(pickle.dumps(embeddings, protocol=2))
        for key in keys:
            image_id = len(image_lines) + 1
            (cub / "images" / key).parent.mkdir(parents=True, exist_ok=True)
            (root / "text_c10" / key).parent.mkdir(parents=True, exist_ok=True)
            width, height = 60 + 4 * image_id, 50
            Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(
                cub / "images" / f"{key}.jpg", format="PNG")
            boxes[key] = (5 + image_id, 8, 20 + 2 * image_id, 24)
            image_lines.append(f"{image_id} {key}.jpg")
            box_lines.append(f"{image_id} " + " ".join(f"{float(v):.1f}" for v in boxes[key]))
            captions = [f"this bird number {image_id} has a {word} beak" for word in ("short", "long", "red")]
            (root / "text_c10" / f"{key}.txt").write_text("\n".join(captions) + "\n")
    (cub / "images.txt").write_text("\n".join(image_lines) + "\n")
    (cub / "bounding_boxes.txt").write_text("\n".join(box_lines) + "\n")
    return boxes


def write_random_inception_weights(path: Path, seed: int = 0) -> Path:
    """A state dict in the FID Inception file's key layout with random weights that keep activations O(1)
    (He-normal convolutions, batch norm near identity); scores from it mean nothing, but every path runs."""
    from illusioncraft.metrics.inception_net import FIDInceptionV3

    torch.manual_seed(seed)
    network = FIDInceptionV3()
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.normal_(module.weight, std=math.sqrt(2.0 / module.weight[0].numel()))
        elif isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.8, 1.2)
            torch.nn.init.uniform_(module.weight, 0.8, 1.2)
            torch.nn.init.uniform_(module.bias, -0.1, 0.1)
    torch.nn.init.normal_(network.fc.weight, std=1 / math.sqrt(2048))
    torch.nn.init.normal_(network.fc.bias, std=0.1)
    torch.save(network.state_dict(), path)
    return path
