"""Images with captions for text-to-image GANs: the splits, the dataset of batch dicts and the shared datamodule.

Every batch is a dict (training, validation and test alike)::

    image          (B, 3, S, S) float in [0, 1]
    tokens         (B, L) long   one of the image's captions, encoded by the text encoder (pad 0, unknown 1)
    wrong_tokens   (B, L) long   a caption of another image that really differs (see "mismatch" below)
    attributes     (B, A) long   attribute indices (A = 0 for ``captioned_folder``)
    embedding      (B, D) float  only with pre-computed sentence embeddings: the same caption as ``tokens``
                                 (caption c of an image uses embedding row c modulo the file's captions per image)
    wrong_embedding (B, D) float likewise for ``wrong_tokens``

Which caption is drawn, and which image is the mismatch, come from a sampler seeded by ``seed`` and the epoch:
a run is reproducible, and validation/test batches are the same every epoch. The mismatch ("wrong") caption
belongs to an image of another group: another attribute vector for procedural sets, another class directory
for ``captioned_folder`` when it has at least two, else simply another image.

The text encoder is fitted on the training captions only, when ``setup`` runs, and is saved with the
datamodule's state in checkpoints. Dataset items are dicts too, so callbacks that read ``dataset[i][0]`` (the
class-label ``fid`` callback) do not apply here: ``raw_split(split).images`` holds the real images.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from illusioncraft import registry
from illusioncraft.data.captions import CaptionGrammar
from illusioncraft.data.image_cache import DecodedImages, as_float_images
from illusioncraft.data.index_batches import IndexBatches, distribution
from illusioncraft.data.sampling import CaptionDrawSampler
from illusioncraft.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")
TextSteps = Optional[list[Union[str, dict]]]


@dataclass
class CaptionedSplit:
    """One split before text encoding: images, raw captions, attribute indices and mismatch groups."""

    images: Any  # Tensor (N, 3, S, S) in [0, 1], or any sequence whose items are (3, S, S) tensors (e.g. FolderImages)
    captions: list[list[str]]  # N lists of one or more captions
    attributes: Tensor  # (N, A) long
    groups: Tensor  # (N,) long: an image's mismatch caption comes from an image of another group
    embeddings: Optional[Tensor] = None  # (N, C, D) pre-computed sentence embeddings, caption c of image n at [n, c]

    def __len__(self) -> int:
        return len(self.captions)

    def subset(self, indices: Tensor) -> CaptionedSplit:
        """The images at ``indices`` (1-D long tensor) with their captions, attributes, groups and embeddings."""
        keep = indices.tolist()
        return CaptionedSplit(
            images=self.images[indices] if isinstance(self.images, Tensor) else self.images.subset(keep),
            captions=[self.captions[i] for i in keep],
            attributes=self.attributes[indices],
            groups=self.groups[indices],
            embeddings=None if self.embeddings is None else self.embeddings[indices],
        )


class CaptionedDataset(Dataset):
    """Items are the batch dicts described in the module docstring; keys come from ``CaptionDrawSampler``.

    ``batch(index, draws)`` gives a whole batch at once from tensors (on the device the dataset was moved to with
    ``to``), with the same values as the items of those keys; an int key also works (caption and mismatch then
    fixed per index), so ``dataset[i]`` is always defined.
    """

    def __init__(self, split: CaptionedSplit, tokens: Tensor, seed: int) -> None:
        if len(split) < 2:
            raise DataError(f"a captioned split needs at least two images to draw mismatched captions, got {len(split)}")
        self.images, self.attributes, self.embeddings = split.images, split.attributes, split.embeddings
        self.tokens = tokens  # (M, L): every caption of every image, image by image
        self.caption_count = torch.tensor([len(captions) for captions in split.captions])  # (N,)
        self.caption_start = torch.cumsum(self.caption_count, 0) - self.caption_count  # (N,) image n's first caption
        _, self.group_of, group_count = torch.unique(split.groups, return_inverse=True, return_counts=True)  # (N,), (G,)
        if int(group_count.max()) == len(split):
            raise DataError("every image of this split has the same attributes/class: no mismatched caption can be drawn")
        self.by_group = torch.argsort(self.group_of, stable=True)  # (N,) image indices, grouped
        self.group_first, self.group_count = torch.cumsum(group_count, 0) - group_count, group_count  # (G,) each
        generator = torch.Generator().manual_seed(seed)
        self.fixed_draws = torch.randint(2**31 - 1, (len(split), 3), generator=generator)  # (N, 3) for int keys

    def __len__(self) -> int:
        return len(self.group_of)

    def to(self, device: torch.device) -> CaptionedDataset:
        """This dataset with its tensors on ``device`` (images too, when they are a tensor)."""
        moved = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                setattr(moved, name, value.to(device))
        return moved

    def mismatch(self, index: Tensor, draw: Tensor) -> Tensor:
        """For each image in ``index`` (B,), an image of another group, chosen uniformly by ``draw`` (B,): the
        draw picks a position among the images outside the image's group, skipping that group's block."""
        group = self.group_of[index]
        first, count = self.group_first[group], self.group_count[group]
        position = draw % (len(self) - count)
        position = position + count * (position >= first)  # skip the block of the image's own group
        return self.by_group[position]

    def batch(self, index: Tensor, draws: Tensor) -> dict[str, Tensor]:
        """The items of images ``index`` (B,) with their draws (B, 3): caption, mismatched image, its caption."""
        wrong = self.mismatch(index, draws[:, 1])
        caption = draws[:, 0] % self.caption_count[index]
        wrong_caption = draws[:, 2] % self.caption_count[wrong]
        images = self.images[index] if isinstance(self.images, Tensor) else self.images.take(index)
        batch = {
            "image": images,  # (B, 3, S, S), float in [0, 1] or a decoded cache's uint8
            "tokens": self.tokens[self.caption_start[index] + caption],  # (B, L)
            "wrong_tokens": self.tokens[self.caption_start[wrong] + wrong_caption],  # (B, L)
            "attributes": self.attributes[index],  # (B, A)
        }
        if self.embeddings is not None:
            per_image = self.embeddings.shape[1]
            batch["embedding"] = self.embeddings[index, caption % per_image]  # (B, D)
            batch["wrong_embedding"] = self.embeddings[wrong, wrong_caption % per_image]  # (B, D)
        return batch

    def __getitem__(self, key: Union[int, tuple[int, int, int, int]]) -> dict[str, Tensor]:
        index, *draws = (key, *self.fixed_draws[key].tolist()) if isinstance(key, int) else key
        item = self.batch(torch.tensor([index]), torch.tensor([draws]))
        return {name: value[0] for name, value in item.items()}


# ------------------------------------------------------------------------------------------------- datamodule


class CaptionedDataModule(LightningDataModule):
    """Base of the captioned datamodules: splits, text encoder, loaders of batch dicts (see the module docstring).

    Subclasses set ``image_shape``, ``attribute_names`` and ``attribute_values`` in ``__init__`` (without reading
    pixels) and implement ``load_splits``; procedural sets also set ``grammar`` (a ``CaptionGrammar``).
    """

    grammar: Optional[CaptionGrammar] = None

    def __init__(
        self,
        image_size: int = 32,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        text_steps: TextSteps = None,
        min_freq: int = 1,
        max_length: int = 16,
        val_fraction: float = 0.1,
    ) -> None:
        super().__init__()
        name = registry.name_of(type(self))
        for key, value, low in (("image_size", image_size, 4), ("batch_size", batch_size, 1), ("min_freq", min_freq, 1),
                                ("max_length", max_length, 1), ("num_workers", num_workers, 0)):
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"data '{name}': {key} must be an integer >= {low}, got {value!r}")
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"data '{name}': val_fraction must be in (0, 1), got {val_fraction}")
        self.image_size, self.batch_size, self.num_workers, self.seed = image_size, batch_size, num_workers, seed
        self.text_steps, self.min_freq, self.max_length, self.val_fraction = text_steps, min_freq, max_length, val_fraction
        self.image_shape = (3, image_size, image_size)
        self.text_encoder: Any = None
        self._splits: Optional[dict[str, CaptionedSplit]] = None
        self.train_dataset: Optional[CaptionedDataset] = None
        self.val_dataset: Optional[CaptionedDataset] = None
        self.test_dataset: Optional[CaptionedDataset] = None

    # Subclasses set these before using the datamodule.
    image_shape: tuple[int, int, int]
    attribute_names: list[str]
    attribute_values: dict[str, list[str]]

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.image_shape

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_names)

    @property
    def vocab_size(self) -> int:
        if self.text_encoder is None:
            raise RuntimeError("vocab_size is known after setup(): the text encoder is fitted on the training captions")
        return len(self.text_encoder.vocabulary)

    @property
    def embedding_dim(self) -> Optional[int]:
        """Width D of the pre-computed sentence embeddings, or None when the data has none."""
        embeddings = self.raw_split("train").embeddings
        return None if embeddings is None else int(embeddings.shape[-1])

    def load_splits(self) -> dict[str, CaptionedSplit]:
        """The train/val/test splits (images, captions, attributes, groups)."""
        raise NotImplementedError

    def raw_split(self, split: str) -> CaptionedSplit:
        """One split's images, captions and attributes (loaded once; no text encoding needed)."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split '{split}'; splits are: {', '.join(SPLITS)}")
        if self._splits is None:
            self._splits = self.load_splits()
        return self._splits[split]

    def captions(self, split: str = "train") -> list[list[str]]:
        """The raw captions of every image of ``split`` (a list per image)."""
        return self.raw_split(split).captions

    def setup(self, stage: Optional[str] = None) -> None:
        """Load the splits and fit the text encoder on the training captions (once)."""
        if self.train_dataset is not None:
            return
        from illusioncraft.text import DEFAULT_TEXT_STEPS, TextEncoder

        steps = list(DEFAULT_TEXT_STEPS) if self.text_steps is None else self.text_steps
        training = [caption for captions in self.captions("train") for caption in captions]
        encoder = TextEncoder(steps=steps, min_freq=self.min_freq, max_length=self.max_length).fit(training)
        self.use_text_encoder(encoder)

    def use_text_encoder(self, encoder: Any) -> None:
        """Encode every split's captions with ``encoder`` (a fitted ``TextEncoder``): fitted here on the training
        captions, or a trained model's own, whose vocabulary then decides the ids."""
        self.text_encoder = encoder
        datasets = {}
        for split in SPLITS:
            raw = self.raw_split(split)
            tokens = encoder.encode([caption for captions in raw.captions for caption in captions])  # (M, L)
            datasets[split] = CaptionedDataset(raw, tokens, seed=self.seed + SPLITS.index(split))
        self.train_dataset, self.val_dataset, self.test_dataset = datasets["train"], datasets["val"], datasets["test"]

    def encode_text(self, captions: list[str]) -> Tensor:
        """Captions -> (N, max_length) token ids with the fitted text encoder (pad 0, unknown 1)."""
        if self.text_encoder is None:
            raise RuntimeError("encode_text needs setup() first: the text encoder is fitted on the training captions")
        return self.text_encoder.encode(list(captions))

    def attributes_of_caption(self, caption: str) -> Optional[Tensor]:
        """(A,) attribute indices named by ``caption``, or None if it misses or contradicts an attribute."""
        if self.grammar is None:
            return None
        parsed = self.grammar.parse(caption)
        return None if parsed is None else torch.tensor(parsed, dtype=torch.long)

    def held_out_captions(self, n: int, seed: int = 0) -> list[tuple[str, Tensor]]:
        """``n`` (caption, (A,) attributes) paraphrases in word forms and templates never used in training captions."""
        if self.grammar is None:
            raise ConfigError(f"data '{registry.name_of(type(self))}' has no caption grammar, so no held-out captions")
        rng = random.Random(seed)
        sizes = [len(self.attribute_values[name]) for name in self.attribute_names]
        result = []
        for _ in range(n):
            attributes = [rng.randrange(size) for size in sizes]
            result.append((self.grammar.held_out_caption(attributes, rng), torch.tensor(attributes, dtype=torch.long)))
        return result

    def state_dict(self) -> dict[str, Any]:
        """The fitted text encoder travels in checkpoints, so a generator can encode captions the same way."""
        return {"text_encoder": None if self.text_encoder is None else self.text_encoder.state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("text_encoder") is None:
            return
        from illusioncraft.text import TextEncoder

        if self.text_encoder is None or self.text_encoder.state() != state["text_encoder"]:
            self.use_text_encoder(TextEncoder.from_state(state["text_encoder"]))

    def _loader(self, dataset: Optional[CaptionedDataset], shuffle: bool) -> Union[DataLoader, IndexBatches]:
        """Images held as a tensor: batches by index on the training device. Image files: a DataLoader. Both draw
        the same order, captions and mismatches for a (seed, epoch)."""
        if dataset is None:
            raise RuntimeError("datamodule used before setup()")
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else None
        if isinstance(dataset.images, Tensor):  # procedural images: everything on the device
            placed = dataset.to(device) if device is not None else dataset
            return IndexBatches(len(dataset), placed.batch, self.batch_size, shuffle, self.seed, draws=3,
                                **distribution(trainer), device=device)
        if isinstance(dataset.images, DecodedImages):  # a decoded folder: batches on the host, pinned for a GPU
            pin = device is not None and device.type == "cuda"

            def fetch(index: Tensor, draws: Tensor) -> dict[str, Tensor]:
                batch = dataset.batch(index, draws)
                return {name: value.pin_memory() for name, value in batch.items()} if pin else batch

            return IndexBatches(len(dataset), fetch, self.batch_size, shuffle, self.seed, draws=3, **distribution(trainer))
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=CaptionDrawSampler(len(dataset), self.seed, shuffle),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def on_after_batch_transfer(self, batch: dict[str, Tensor], dataloader_idx: int) -> dict[str, Tensor]:
        return {**batch, "image": as_float_images(batch["image"])}  # a decoded cache's uint8, converted on the device

    def train_dataloader(self) -> Union[DataLoader, IndexBatches]:
        return self._loader(self.train_dataset, shuffle=True)

    def val_dataloader(self) -> Union[DataLoader, IndexBatches]:
        return self._loader(self.val_dataset, shuffle=False)

    def test_dataloader(self) -> Union[DataLoader, IndexBatches]:
        return self._loader(self.test_dataset, shuffle=False)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """A seeded permutation of range(n) cut into (train, val) indices; each gets at least two images (n >= 4), so
    that every split can draw a mismatched caption."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(max(2, round(n * val_fraction)), n - 2)
    return order[n_val:].sort().values, order[:n_val].sort().values


