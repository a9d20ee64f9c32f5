"""Captioned datamodules (captioned_shapes, captioned_digits, captioned_folder) and the attribute classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from illusioncraft import registry
from illusioncraft.data.captioned_digits import CaptionedDigitsDataModule
from illusioncraft.data.captioned_folder import CaptionedFolderDataModule
from illusioncraft.data.shapes import CaptionedShapesDataModule, generate_shapes
from illusioncraft.errors import DataError
from illusioncraft.metrics.attributes import (
    AttributeClassifier,
    attribute_accuracy,
    reduce_resolution,
    train_attribute_classifier,
)
from illusioncraft.text import TextEncoder


@pytest.fixture(scope="module")
def shapes() -> CaptionedShapesDataModule:
    data = CaptionedShapesDataModule(n_images=400, batch_size=32, seed=3)
    data.setup("fit")
    return data


@pytest.fixture(scope="module")
def digits() -> CaptionedDigitsDataModule:
    data = CaptionedDigitsDataModule(batch_size=32, seed=1)
    data.setup("fit")
    return data


def attributes_by_tokens(data) -> dict[tuple[int, ...], tuple[int, ...]]:
    """Encoded caption -> the attributes of the image it describes (unique: attribute words differ in the vocabulary)."""
    table: dict[tuple[int, ...], set[tuple[int, ...]]] = {}
    for split in ("train", "val", "test"):
        raw = data.raw_split(split)
        for captions, attributes in zip(raw.captions, raw.attributes.tolist(), strict=True):
            for row in data.encode_text(captions).tolist():
                table.setdefault(tuple(row), set()).add(tuple(attributes))
    assert all(len(values) == 1 for values in table.values())
    return {key: values.pop() for key, values in table.items()}


# ------------------------------------------------------------------------------------------ shapes, digits


def test_attributes_are_known_before_setup():
    data = CaptionedShapesDataModule(n_images=100, image_size=16)
    assert data.image_shape == (3, 16, 16)
    assert data.attribute_names == ["shape", "colour", "size", "background"] and data.num_attributes == 4
    assert data.attribute_values["colour"] == ["red", "green", "blue", "yellow"]
    assert data.train_dataset is None and data._splits is None  # no pixels drawn yet


def test_generation_is_deterministic_by_seed():
    first, again, other = generate_shapes(50, 32, seed=0), generate_shapes(50, 32, seed=0), generate_shapes(50, 32, seed=1)
    assert torch.equal(first.images, again.images) and first.captions == again.captions
    assert not torch.equal(first.images, other.images)


def test_shape_and_background_colours_never_coincide():
    from illusioncraft.data.shapes import BACKGROUND_RGB, SHAPE_RGB

    distances = np.abs(SHAPE_RGB[:, None] - BACKGROUND_RGB[None]).max(axis=-1)  # (4 colours, 3 backgrounds)
    assert distances.min() > 0.3


@pytest.mark.parametrize("fixture", ["shapes", "digits"])
def test_batches_are_dicts_of_the_documented_shapes_and_ranges(fixture, request):
    data = request.getfixturevalue(fixture)
    for loader in (data.train_dataloader(), data.val_dataloader(), data.test_dataloader()):
        batch = next(iter(loader))
        assert set(batch) == {"image", "tokens", "wrong_tokens", "attributes"}
        assert batch["image"].shape == (32, 3, 32, 32) and batch["image"].dtype == torch.float32
        assert 0.0 <= float(batch["image"].min()) and float(batch["image"].max()) <= 1.0
        for key in ("tokens", "wrong_tokens"):
            assert batch[key].shape == (32, 16) and batch[key].dtype == torch.long
            assert 0 <= int(batch[key].min()) and int(batch[key].max()) < data.vocab_size
        assert batch["attributes"].shape == (32, data.num_attributes) and batch["attributes"].dtype == torch.long


def test_batches_are_deterministic_by_seed_and_change_caption_with_the_epoch():
    first, second = (CaptionedShapesDataModule(n_images=100, batch_size=16, seed=5) for _ in range(2))
    first.setup(), second.setup()
    a, b = next(iter(first.train_dataloader())), next(iter(second.train_dataloader()))
    assert all(torch.equal(a[key], b[key]) for key in a)
    loader = first.train_dataloader()
    epochs = [torch.cat([batch["tokens"] for batch in loader]) for _ in range(2)]
    assert not torch.equal(epochs[0], epochs[1])  # new order and new captions each epoch
    val = first.val_dataloader()
    assert torch.equal(next(iter(val))["tokens"], next(iter(val))["tokens"])  # validation is the same every epoch


@pytest.mark.parametrize("fixture", ["shapes", "digits"])
def test_tokens_describe_the_image_and_wrong_tokens_another_attribute_vector(fixture, request):
    data = request.getfixturevalue(fixture)
    described = attributes_by_tokens(data)
    for loader in (data.train_dataloader(), data.val_dataloader()):
        for batch in loader:
            truth = [tuple(row) for row in batch["attributes"].tolist()]
            assert [described[tuple(row)] for row in batch["tokens"].tolist()] == truth
            wrong = [described[tuple(row)] for row in batch["wrong_tokens"].tolist()]
            assert all(w != t for w, t in zip(wrong, truth, strict=True))


@pytest.mark.parametrize("fixture", ["shapes", "digits"])
def test_every_caption_names_the_true_attributes(fixture, request):
    data = request.getfixturevalue(fixture)
    for split in ("train", "val", "test"):
        raw = data.raw_split(split)
        for captions, attributes in zip(raw.captions, raw.attributes, strict=True):
            assert len(captions) == 5
            for caption in captions:
                assert torch.equal(data.attributes_of_caption(caption), attributes), caption


def test_a_caption_missing_or_contradicting_an_attribute_has_no_attributes(shapes):
    assert shapes.attributes_of_caption("a red circle") is None  # no size, no background
    assert shapes.attributes_of_caption("a small red circle and a big square on black") is None
    assert shapes.attributes_of_caption("A Small RED circle on a white background").tolist() == [0, 0, 0, 1]


def test_text_encoder_is_fitted_on_training_captions_only(shapes):
    training = [caption for captions in shapes.captions("train") for caption in captions]
    assert shapes.text_encoder.state() == TextEncoder().fit(training).state()
    assert shapes.vocab_size == len(shapes.text_encoder.vocabulary)
    assert torch.equal(shapes.encode_text(["a big red box on white"]), shapes.text_encoder.encode(["a big red box on white"]))


@pytest.mark.parametrize("fixture", ["shapes", "digits"])
def test_held_out_captions_use_new_words_that_the_pipeline_still_knows(fixture, request):
    data = request.getfixturevalue(fixture)
    training_words = {word for captions in data.captions("train") for c in captions for word in c.replace(",", " ").split()}
    held_out = data.held_out_captions(200, seed=0)
    again = data.held_out_captions(200, seed=0)  # deterministic
    assert [c for c, _ in held_out] == [c for c, _ in again]
    assert torch.equal(torch.stack([a for _, a in held_out]), torch.stack([a for _, a in again]))
    for caption, attributes in held_out:
        assert {word for word in caption.replace(",", " ").split()} - training_words, caption
        assert torch.equal(data.attributes_of_caption(caption), attributes)
    unknown = [word for caption, _ in held_out for word in data.text_encoder.unknown_words(caption)]
    assert unknown == []  # lemmatize + stem map every new form to a training token


def test_held_out_captions_are_unknown_without_lemmatize_and_stem():
    data = CaptionedShapesDataModule(n_images=100, text_steps=["lowercase", "tokenize"])
    data.setup()
    unknown = [word for caption, _ in data.held_out_captions(50) for word in data.text_encoder.unknown_words(caption)]
    assert len(unknown) >= 50  # at least one per caption: the plural shape word


def test_datamodule_state_carries_the_text_encoder(shapes):
    restored = CaptionedShapesDataModule(n_images=400, batch_size=32, seed=3, text_steps=["lowercase", "tokenize"])
    restored.setup()
    restored.load_state_dict(shapes.state_dict())
    assert restored.text_encoder.state() == shapes.text_encoder.state()
    assert torch.equal(next(iter(restored.val_dataloader()))["tokens"], next(iter(shapes.val_dataloader()))["tokens"])


def test_digits_attributes_and_captions(digits):
    assert digits.attribute_names == ["digit", "colour", "stroke"]
    assert digits.attributes_of_caption("the digit 7 written in red with a bold stroke").tolist() == [7, 0, 1]
    raw = digits.raw_split("train")
    thick = raw.images[raw.attributes[:, 2] == 1].sum(dim=(1, 2, 3)).mean()
    thin = raw.images[raw.attributes[:, 2] == 0].sum(dim=(1, 2, 3)).mean()
    assert thick > 1.5 * thin  # dilation vs erosion


def test_captioned_datamodules_are_registered():
    assert {"captioned_shapes", "captioned_digits", "captioned_folder"} <= set(registry.names("datamodule"))
    assert "attribute_classifier" in registry.names("feature_extractor")


# -------------------------------------------------------------------------------------------- captioned_folder


def write_folder(root: Path, classes: tuple[str, ...] = ("cardinal", "sparrow"), per_class: int = 2) -> Path:
    for k, name in enumerate(classes):
        (root / "images" / name).mkdir(parents=True)
        (root / "text" / name).mkdir(parents=True)
        for i in range(per_class):
            colour = (200 * (1 - k), 40 * i, 200 * k)
            Image.new("RGB", (40, 30), colour).save(root / "images" / name / f"{name}_{i}.jpg")
            lines = [f"a {name} number {i} caption {c}" for c in range(3)]
            (root / "text" / name / f"{name}_{i}.txt").write_text("\n".join(lines) + "\n\n")
    return root


def test_folder_batches_and_mismatches_from_another_class(tmp_path):
    data = CaptionedFolderDataModule(str(write_folder(tmp_path)), image_size=16, batch_size=4)
    assert data.image_shape == (3, 16, 16) and data.attribute_names == [] and data.num_attributes == 0
    data.setup()
    assert sum(len(c) for c in data.captions("train")) == 6 and len(data.captions("val")) == 2
    for loader in (data.train_dataloader(), data.val_dataloader(), data.test_dataloader()):
        batch = next(iter(loader))
        assert batch["image"].shape == (2, 3, 16, 16) and batch["attributes"].shape == (2, 0)
        assert 0 <= float(batch["image"].min()) and float(batch["image"].max()) <= 1
        for tokens, wrong in zip(batch["tokens"], batch["wrong_tokens"], strict=True):
            assert not torch.equal(tokens, wrong)
    classes_of = {}
    for split in ("train", "val"):
        for captions in data.captions(split):
            for row in data.encode_text(captions).tolist():
                classes_of[tuple(row)] = captions[0].split()[1]
    batch = next(iter(data.train_dataloader()))
    if len({classes_of[tuple(row)] for row in batch["tokens"].tolist()}) == 2:  # both classes in training
        assert all(classes_of[tuple(t)] != classes_of[tuple(w)]
                   for t, w in zip(batch["tokens"].tolist(), batch["wrong_tokens"].tolist(), strict=True))


def test_folder_encoder_never_saw_validation_captions(tmp_path):
    data = CaptionedFolderDataModule(str(write_folder(tmp_path)), image_size=8)
    data.setup()
    val_words = {w for captions in data.captions("val") for c in captions for w in c.split()}
    train_words = {w for captions in data.captions("train") for c in captions for w in c.split()}
    for word in val_words - train_words:
        assert data.text_encoder.unknown_words(word) == [word]


def test_folder_split_is_deterministic_by_seed(tmp_path):
    root = str(write_folder(tmp_path, per_class=5))
    captions = [CaptionedFolderDataModule(root, seed=seed).captions("val") for seed in (0, 0, 1)]
    assert captions[0] == captions[1] and captions[0] != captions[2]


def test_folder_with_embeddings_adds_the_embedding_of_the_same_caption(tmp_path):
    root = write_folder(tmp_path)
    codes = torch.arange(4 * 3, dtype=torch.float32).view(4, 3, 1).expand(4, 3, 5)  # (N, C, D): image n, caption c -> 3n + c
    np.save(tmp_path / "embeddings.npy", codes.numpy())
    data = CaptionedFolderDataModule(str(root), embeddings=str(tmp_path / "embeddings.npy"), image_size=8)
    data.setup()
    files = sorted(p.relative_to(root / "images").as_posix() for p in (root / "images").rglob("*.jpg"))
    code_of = {}
    for n, path in enumerate(files):
        name = Path(path).stem.split("_")
        for c in range(3):
            caption = f"a {name[0]} number {name[1]} caption {c}"
            code_of[tuple(data.encode_text([caption])[0].tolist())] = 3 * n + c
    batch = next(iter(data.train_dataloader()))
    assert batch["embedding"].shape == (2, 5) and batch["wrong_embedding"].shape == (2, 5)
    assert [code_of[tuple(row)] for row in batch["tokens"].tolist()] == batch["embedding"][:, 0].long().tolist()
    assert [code_of[tuple(row)] for row in batch["wrong_tokens"].tolist()] == batch["wrong_embedding"][:, 0].long().tolist()


def test_folder_missing_root_names_the_key(tmp_path):
    with pytest.raises(DataError, match=r"data\.root '.*nowhere' is not a directory"):
        CaptionedFolderDataModule(str(tmp_path / "nowhere"))


def test_folder_missing_caption_file_is_one_line_naming_it(tmp_path):
    root = write_folder(tmp_path)
    (root / "text" / "sparrow" / "sparrow_1.txt").unlink()
    with pytest.raises(DataError, match="missing caption file '.*sparrow_1.txt'") as error:
        CaptionedFolderDataModule(str(root)).setup()
    assert "\n" not in str(error.value)


def test_folder_empty_caption_file_is_one_line_naming_it(tmp_path):
    root = write_folder(tmp_path)
    (root / "text" / "cardinal" / "cardinal_0.txt").write_text("\n  \n")
    with pytest.raises(DataError, match="caption file '.*cardinal_0.txt' is empty") as error:
        CaptionedFolderDataModule(str(root)).setup()
    assert "\n" not in str(error.value)


def test_folder_unreadable_image_is_one_line_naming_it(tmp_path):
    root = write_folder(tmp_path)
    (root / "images" / "sparrow" / "sparrow_0.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(DataError, match="cannot read image '.*sparrow_0.jpg'") as error:
        CaptionedFolderDataModule(str(root)).setup()
    assert "\n" not in str(error.value)


def test_folder_embeddings_must_have_a_row_per_image(tmp_path):
    root = write_folder(tmp_path)
    np.save(tmp_path / "embeddings.npy", np.zeros((3, 2, 4), dtype=np.float32))
    with pytest.raises(DataError, match="embeddings file '.*embeddings.npy' has 3 rows but .* has 4 images"):
        CaptionedFolderDataModule(str(root), embeddings=str(tmp_path / "embeddings.npy")).setup()


# ---------------------------------------------------------------------------------------- attribute classifier


def test_attribute_classifier_heads_and_features():
    net = AttributeClassifier({"shape": ["a", "b", "c"], "size": ["s", "l"]}, image_size=32)
    images = torch.rand(5, 3, 64, 64)  # any size: resized to its own
    logits = net(images)
    assert logits["shape"].shape == (5, 3) and logits["size"].shape == (5, 2)
    assert net.features(images).shape == (5, 128) and net.predict(images).shape == (5, 2)


def test_reduce_resolution_blurs_the_second_half_of_a_batch():
    images = torch.rand(6, 3, 32, 32)
    out = reduce_resolution(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and torch.equal(out[:3], images[:3])
    assert not torch.allclose(out[3:], images[3:]) and 0 <= out.min() and out.max() <= 1
    # a lower resolution keeps the coarse content: the mean colour of each image barely moves
    assert torch.allclose(out[3:].mean(dim=(2, 3)), images[3:].mean(dim=(2, 3)), atol=0.05)


def test_attribute_classifier_learns_shapes_quickly_and_reads_them_at_lower_resolution():
    data = CaptionedShapesDataModule(n_images=2000, seed=0)
    net = train_attribute_classifier(data, epochs=5, seed=0)
    val = data.raw_split("val")
    accuracy = attribute_accuracy(net, val.images, val.attributes)
    assert min(accuracy[name] for name in data.attribute_names) >= 0.95, accuracy
    # a real image drawn at half the resolution and enlarged (what a Stage-I image is, judged at Stage-II's size)
    # still shows its shape: the classifier must say so rather than judge sharpness
    half = F.interpolate(val.images, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)
    enlarged = F.interpolate(half, size=val.images.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
    blurred = attribute_accuracy(net, enlarged, val.attributes)
    assert min(blurred[name] for name in data.attribute_names) >= 0.95, blurred


@pytest.mark.slow
def test_attribute_classifier_feature_extractor_is_accurate_and_cached():
    first = registry.build("feature_extractor", "attribute_classifier", data="captioned_shapes")
    second = registry.build("feature_extractor", "attribute_classifier", data="captioned_shapes")
    assert first.weights_hash == second.weights_hash and first.num_features == 128
    assert min(first.network.validation_accuracy.values()) >= 0.97, first.network.validation_accuracy
    test = CaptionedShapesDataModule().raw_split("test")
    accuracy = attribute_accuracy(first.network, test.images, test.attributes)
    assert min(accuracy.values()) >= 0.97, accuracy
    assert first(test.images[:5]).shape == (5, 128)


def test_caption_draw_sampler_is_a_function_of_seed_and_epoch():
    from illusioncraft.data.sampling import CaptionDrawSampler

    def draws(seed: int, epoch: int, shuffle: bool = True) -> list[tuple[int, int, int, int]]:
        sampler = CaptionDrawSampler(50, seed, shuffle)
        sampler.set_epoch(epoch)
        return list(sampler)

    first = draws(0, 3)
    assert first == draws(0, 3)  # the same (seed, epoch): the same order and draws, however often it is asked
    assert sorted(index for index, *_ in first) == list(range(50))  # every image once per epoch
    assert first != draws(0, 4) and first != draws(1, 3)
    assert draws(0, 3, shuffle=False) == draws(0, 7, shuffle=False)  # validation: the same every epoch
    assert [index for index, *_ in draws(0, 3, shuffle=False)] == list(range(50))
    sampler = CaptionDrawSampler(50, 0, True)
    assert list(sampler) != list(sampler)  # iterated by hand without set_epoch, successive passes differ


def test_a_captioned_folder_decoded_once_gives_the_batches_of_one_decoded_on_access(tmp_path, monkeypatch):
    monkeypatch.setenv("ILLUSIONCRAFT_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for name in ("red", "blue"):
        (tmp_path / "cub" / "images" / name).mkdir(parents=True)
        (tmp_path / "cub" / "text" / name).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "cub" / "images" / name / f"{i}.png")
            (tmp_path / "cub" / "text" / name / f"{i}.txt").write_text(f"a {name} bird number {i}\n")

    def first_batches(cache: str) -> list[dict]:
        data = CaptionedFolderDataModule(root=str(tmp_path / "cub"), image_size=16, batch_size=3, cache=cache)
        data.setup("fit")
        return [data.on_after_batch_transfer(batch, 0) for batch in data.train_dataloader()]

    expected = first_batches("none")
    for cache in ("memory", "disk"):
        got = first_batches(cache)
        assert len(got) == len(expected)
        for batch, want in zip(got, expected, strict=True):
            assert batch.keys() == want.keys() and all(torch.equal(batch[key], want[key]) for key in want)
