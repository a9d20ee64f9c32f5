"""``captioned_folder`` with ``layout: stackgan``: StackGAN's pickles, CUB's bounding-box crop and its split."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from standard_files import STACKGAN_SPLITS, write_stackgan_layout

from illusioncraft.data.captioned_folder import CaptionedFolderDataModule
from illusioncraft.errors import DataError


def stackgan_crop_by_hand(path, box, size):
    """StackGAN-Pytorch's get_img crop (R = int(0.75 max(w, h)) around the box centre, clipped), bicubic resize."""
    image = Image.open(path).convert("RGB")
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    crop = image.crop([max(0, cx - r), max(0, cy - r), min(image.width, cx + r), min(image.height, cy + r)])
    return torch.from_numpy(np.asarray(crop.resize((size, size), Image.BICUBIC), dtype=np.float32) / 255).permute(2, 0, 1)


def test_splits_captions_classes_and_embeddings_are_stackgans(tmp_path):
    write_stackgan_layout(tmp_path)
    data = CaptionedFolderDataModule(str(tmp_path), layout="stackgan", embeddings="char-CNN-RNN-embeddings.pickle",
                                     image_size=16)
    train, val, test = (data.raw_split(s) for s in ("train", "val", "test"))
    assert (len(train), len(val)) == (4, 2) and test is val  # StackGAN's test images validate
    assert train.groups.tolist() == [1, 1, 2, 2]  # class_info.pickle: mismatches come from another class
    assert train.captions[2][1] == "this bird number 3 has a long beak"
    pickled = pickle.loads((tmp_path / "test" / "char-CNN-RNN-embeddings.pickle").read_bytes())
    torch.testing.assert_close(val.embeddings, torch.from_numpy(pickled))  # (N, 10, D)
    data.setup()
    batch = next(iter(data.train_dataloader()))
    assert batch["image"].shape == (4, 3, 16, 16) and batch["embedding"].shape == (4, 16)


def test_birds_are_cropped_to_their_bounding_boxes_as_stackgan_crops_them(tmp_path):
    boxes = write_stackgan_layout(tmp_path)
    data = CaptionedFolderDataModule(str(tmp_path), layout="stackgan", image_size=24)
    for index, key in enumerate(STACKGAN_SPLITS["train"]):
        expected = stackgan_crop_by_hand(tmp_path / "CUB_200_2011" / "images" / f"{key}.jpg", boxes[key], 24)
        torch.testing.assert_close(data.raw_split("train").images[index], expected)


def test_oxford_layout_without_boxes_reads_images_and_text_folders(tmp_path):
    write_stackgan_layout(tmp_path)
    shutil.move(tmp_path / "CUB_200_2011" / "images", tmp_path / "images")
    shutil.rmtree(tmp_path / "CUB_200_2011")
    shutil.move(tmp_path / "text_c10", tmp_path / "text")
    data = CaptionedFolderDataModule(str(tmp_path), layout="stackgan", image_size=8)
    image = data.raw_split("val").images[0]
    path = tmp_path / "images" / f"{STACKGAN_SPLITS['test'][0]}.jpg"
    with Image.open(path) as picture:
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
        square = picture.convert("RGB").crop((left, top, left + side, top + side)).resize((8, 8), Image.BICUBIC)
    torch.testing.assert_close(image, torch.from_numpy(np.asarray(square, dtype=np.float32) / 255).permute(2, 0, 1))


def test_a_missing_image_or_box_is_one_line_naming_it(tmp_path):
    write_stackgan_layout(tmp_path)
    key = STACKGAN_SPLITS["train"][1]
    (tmp_path / "CUB_200_2011" / "images" / f"{key}.jpg").unlink()
    with pytest.raises(DataError, match=rf"image '.*{key}.jpg' of '.*train/filenames.pickle' does not exist"):
        CaptionedFolderDataModule(str(tmp_path), layout="stackgan").raw_split("train")
    write_stackgan_layout(tmp_path / "again")
    boxes = tmp_path / "again" / "CUB_200_2011" / "bounding_boxes.txt"
    boxes.write_text("\n".join(boxes.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(DataError, match=r"image id 6 of '.*images.txt' has no row in bounding_boxes.txt"):
        CaptionedFolderDataModule(str(tmp_path / "again"), layout="stackgan").raw_split("train")


def test_a_filenames_pickle_that_would_run_code_is_refused(tmp_path):
    write_stackgan_layout(tmp_path)

    class Crafted:
        def __reduce__(self):
            return (eval, ("print('ran')",))

    (tmp_path / "train" / "filenames.pickle").write_bytes(pickle.dumps(Crafted(), protocol=2))
    with pytest.raises(DataError, match=r"refused global '(__builtin__|builtins).eval'"):
        CaptionedFolderDataModule(str(tmp_path), layout="stackgan").raw_split("train")


def test_stackgan_layout_needs_its_split_folders(tmp_path):
    with pytest.raises(DataError, match=r"layout stackgan needs '.*train/filenames.pickle'"):
        CaptionedFolderDataModule(str(tmp_path), layout="stackgan")


def test_birds_decoded_once_into_the_cache_are_the_cropped_birds(tmp_path, monkeypatch):
    monkeypatch.setenv("ILLUSIONCRAFT_CACHE", str(tmp_path / "cache"))
    write_stackgan_layout(tmp_path / "cub")
    expected = CaptionedFolderDataModule(str(tmp_path / "cub"), layout="stackgan", image_size=24).raw_split("train").images
    for cache in ("memory", "disk"):
        cached = CaptionedFolderDataModule(str(tmp_path / "cub"), layout="stackgan", image_size=24, cache=cache)
        images = cached.raw_split("train").images
        for index in range(len(expected)):  # each image's own box crop, the same pixels decoded on access or once
            torch.testing.assert_close(images[index], expected[index], atol=0, rtol=0)
    assert len(list((tmp_path / "cache" / "images").glob("captioned_folder_*.npy"))) == 2  # train and test
