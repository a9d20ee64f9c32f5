"""Image classifiers: logistic regression, a multi-layer perceptron and a convolutional network.

All three share one LightningModule loop (``Classifier``); each only says how its network is built. Input
shape and class count come from the datamodule at ``setup`` when not given, and are stored in the
hyper-parameters so that checkpoints rebuild the same network.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

import torch
from lightning.pytorch import Callback
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from illusioncraft import registry
from illusioncraft.contracts import ClassLabelledData, MultiViewLoss, ShapedData
from illusioncraft.errors import ConfigError
from illusioncraft.losses.spec import LossSpec, build_loss
from illusioncraft.models.hook_names import QuickHookNames
from illusioncraft.nn.compile import Compile, check_compilable, compile_backend, compile_networks
from illusioncraft.nn.memory_format import channels_last_batch, to_channels_last
from illusioncraft.nn.optim import OptimizerSpec, build_optimizer, check_optimizer_spec
from illusioncraft.registry import register
from illusioncraft.step_logs import log_training_values

Output = Literal["softmax", "sigmoid"]


class Classifier(QuickHookNames):
    """Shared training, evaluation and logging for every classifier (subclasses implement ``build_network``)."""

    checkpoint_monitor = ("val/acc", "max")
    loss_names = ("train/loss",)
    find_unused_parameters = False

    def __init__(
        self,
        input_shape: Optional[tuple[int, int, int]] = None,
        num_classes: Optional[int] = None,
        output: Output = "softmax",
        loss: Optional[LossSpec] = None,
        optimizer: OptimizerSpec = "adam",
        compile: Compile = False,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        if output not in ("softmax", "sigmoid"):
            raise ConfigError(f"model: output must be 'softmax' or 'sigmoid', got {output!r}")
        if output == "sigmoid" and num_classes not in (None, 2):
            raise ConfigError(f"model: output 'sigmoid' is binary and needs 2 classes, got num_classes={num_classes}")
        check_optimizer_spec(optimizer)
        self.loss_fn = build_loss(loss or ("binary_cross_entropy" if output == "sigmoid" else "cross_entropy"))
        self.save_hyperparameters()
        # Kept as attributes: a subclass's hparams hold only the arguments its own signature exposes.
        self.output = output
        self.optimizer_spec = optimizer
        self.compile_backend = compile_backend(compile, registry.name_of(type(self)))
        self.networks_compiled = False
        self.channels_last = channels_last
        self.network: Optional[nn.Module] = None
        if input_shape is not None and num_classes is not None:
            self._build(tuple(input_shape), num_classes)

    def build_network(self, input_shape: tuple[int, int, int], num_outputs: int) -> nn.Module:
        """The network mapping images (B, C, H, W) to logits (B, num_outputs)."""
        raise NotImplementedError

    def _build(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        if num_classes < 2:
            raise ConfigError(f"model '{registry.name_of(type(self))}': a classifier needs at least 2 classes, the data "
                              f"has {num_classes} (for celeba, set data.label_attribute)")
        if self.output == "sigmoid" and num_classes != 2:
            raise ConfigError(f"model: output 'sigmoid' is binary and needs 2 classes, the data has {num_classes}")
        self.network = self.build_network(input_shape, 1 if self.output == "sigmoid" else num_classes)
        # no argument checks in training: they call torch.unique on every batch, a synchronisation on a GPU, and the
        # predictions and labels are this module's own; evaluation keeps them
        self.train_acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_class_acc = MulticlassAccuracy(num_classes, average="none")
        self.test_confusion = MulticlassConfusionMatrix(num_classes)

    def setup(self, stage: str) -> None:
        if self.network is not None:
            return
        data = self.trainer.datamodule
        if not isinstance(data, ShapedData) or not isinstance(data, ClassLabelledData) or data.data_shape is None:
            raise ConfigError(f"model '{registry.name_of(type(self))}': input_shape and num_classes are not set and the "
                              "datamodule does not provide them (data_shape, class_names)")
        self.hparams.input_shape, self.hparams.num_classes = tuple(data.data_shape), data.num_classes
        self._build(tuple(data.data_shape), data.num_classes)

    def configure_model(self) -> None:
        """``channels_last``: the network's weights in that layout; ``compile``: the network's forward compiled in
        place, once, when training or evaluation starts."""
        if self.channels_last:
            to_channels_last([self.network])
        if self.compile_backend and not self.networks_compiled:
            check_compilable(self.compile_backend, self.device, registry.name_of(type(self)))
            compile_networks([self.network], self.compile_backend)
            self.networks_compiled = True

    def forward(self, images: Tensor) -> Tensor:
        """Logits (B, K), or (B,) for a sigmoid output."""
        logits = self.network(channels_last_batch(images) if self.channels_last else images)
        return logits.squeeze(1) if self.output == "sigmoid" else logits

    def predict_labels(self, logits: Tensor) -> Tensor:
        return (logits > 0).long() if self.output == "sigmoid" else logits.argmax(dim=1)

    def _step(self, batch: tuple[Tensor, Tensor], training: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        images, targets = batch
        logits = self(images)
        views = isinstance(self.loss_fn, MultiViewLoss) and self.loss_fn.accepts_views
        loss_fn = self.loss_fn.clean_loss if views and not training else self.loss_fn
        if logits.shape[0] != targets.shape[0] and not views:
            raise ConfigError(
                f"model: the batch holds {logits.shape[0] // targets.shape[0]} views per image (augmix with jsd: true); "
                "set the model's loss to 'jsd'"
            )
        if self.output == "sigmoid":
            if targets.ndim != 1:
                raise ConfigError("model: output 'sigmoid' takes 0/1 labels, not the soft targets of mixup/cutmix")
            loss = loss_fn(logits, targets.float())
        else:
            loss = loss_fn(logits, targets)
        clean = logits[: targets.shape[0]]  # with several views per image, the first block is the clean one
        labels = targets if targets.ndim == 1 else targets.argmax(dim=1)  # soft targets score by their argmax
        return loss, self.predict_labels(clean), labels

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss, preds, labels = self._step(batch, training=True)
        self.train_acc.update(preds, labels)
        log_training_values(self, {"train/loss": loss})
        return loss

    def _log_epoch_metric(self, name: str, metric: MulticlassAccuracy, prog_bar: bool = False) -> None:
        # Accuracy is accumulated with update() and logged once per epoch: handing the Metric object to
        # self.log every step costs several milliseconds of Lightning bookkeeping per step. compute() already
        # combines every rank's counts, so all ranks log the same value (sync_dist averages equal numbers).
        self.log(name, metric.compute(), prog_bar=prog_bar, sync_dist=True)
        metric.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metric("train/acc", self.train_acc)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, preds, labels = self._step(batch)
        self.val_acc.update(preds, labels)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)  # mean over ranks of each rank's batch mean

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metric("val/acc", self.val_acc, prog_bar=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, preds, labels = self._step(batch)
        self.test_acc.update(preds, labels)
        self.test_class_acc.update(preds, labels)
        self.test_confusion.update(preds, labels)
        self.log("test/loss", loss, sync_dist=True)

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metric("test/acc", self.test_acc)
        per_class = self.test_class_acc.compute()
        data = self.trainer.datamodule
        names = data.class_names if isinstance(data, ClassLabelledData) else [str(i) for i in range(len(per_class))]
        self.log_dict({f"test/acc_class_{name}": value for name, value in zip(names, per_class, strict=False)}, sync_dist=True)
        self.test_class_acc.reset()

    def predict_step(self, batch: Union[Tensor, tuple[Tensor, ...]], batch_idx: int) -> dict[str, Tensor]:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        logits = self(images)
        if self.output == "sigmoid":
            probabilities = torch.stack([1 - torch.sigmoid(logits), torch.sigmoid(logits)], dim=1)
        else:
            probabilities = logits.softmax(dim=1)
        return {"labels": self.predict_labels(logits), "probabilities": probabilities}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.optimizer_spec, self.parameters())

    def default_callbacks(self) -> list[Callback]:
        """Callbacks the CLI adds for this model family: training batches and validation predictions as pictures,
        and a confusion-matrix picture after testing."""
        return [registry.build("callback", "classifier_samples"), registry.build("callback", "confusion_matrix")]


def _activation(name: str) -> nn.Module:
    return registry.build("activation", name)


def _check_activation_and_dropout(model: str, activation: str, dropout: float) -> None:
    """Fail at construction, not at setup, on an unknown activation or a dropout outside [0, 1)."""
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"model '{model}': dropout must be in [0, 1), got {dropout}")
    registry.get("activation", activation)


@register("logistic_regression")
class LogisticRegression(Classifier):
    """Logistic regression: one linear layer; sigmoid + binary cross-entropy or softmax + categorical CE."""

    def __init__(
        self,
        output: Output = "softmax",
        optimizer: OptimizerSpec = "adam",
        loss: Optional[LossSpec] = None,
        compile: Compile = False,
        input_shape: Optional[tuple[int, int, int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        super().__init__(input_shape=input_shape, num_classes=num_classes, output=output, loss=loss, optimizer=optimizer,
                         compile=compile)

    def build_network(self, input_shape: tuple[int, int, int], num_outputs: int) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(input_shape).prod()), num_outputs))


@register("mlp")
class MLP(Classifier):
    """Multi-layer perceptron: hidden linear layers with a named activation, softmax (or sigmoid) output."""

    def __init__(
        self,
        hidden_sizes: list[int] = [128, 64],  # noqa: B006 - jsonargparse shows list defaults; never mutated
        activation: str = "relu",
        dropout: float = 0.0,
        output: Output = "softmax",
        optimizer: OptimizerSpec = "adam",
        loss: Optional[LossSpec] = None,
        compile: Compile = False,
        input_shape: Optional[tuple[int, int, int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        if not hidden_sizes or any(size < 1 for size in hidden_sizes):
            raise ConfigError(f"model 'mlp': hidden_sizes must be a non-empty list of positive sizes, got {hidden_sizes}")
        _check_activation_and_dropout("mlp", activation, dropout)
        super().__init__(input_shape=input_shape, num_classes=num_classes, output=output, loss=loss, optimizer=optimizer,
                         compile=compile)

    def build_network(self, input_shape: tuple[int, int, int], num_outputs: int) -> nn.Module:
        hp = self.hparams
        layers: list[nn.Module] = [nn.Flatten()]
        width = int(torch.tensor(input_shape).prod())
        for size in hp.hidden_sizes:
            layers += [nn.Linear(width, size), _activation(hp.activation)]
            if hp.dropout:
                layers.append(nn.Dropout(hp.dropout))
            width = size
        layers.append(nn.Linear(width, num_outputs))
        return nn.Sequential(*layers)


@register("cnn")
class CNN(Classifier):
    """Convolutional network: conv blocks (kernel, stride, padding, max/avg pooling), then a dense head.

    A block pools only while its feature map is at least ``pool_size`` wide, so deep stacks fit 8x8 digits.
    """

    def __init__(
        self,
        channels: list[int] = [32, 64],  # noqa: B006 - jsonargparse shows list defaults; never mutated
        kernel_size: int = 3,
        stride: int = 1,
        padding: Union[int, Literal["same"]] = "same",
        pooling: Literal["max", "avg", "none"] = "max",
        pool_size: int = 2,
        hidden_size: int = 128,
        activation: str = "relu",
        batch_norm: bool = True,
        dropout: float = 0.25,
        output: Output = "softmax",
        optimizer: OptimizerSpec = "adam",
        loss: Optional[LossSpec] = None,
        compile: Compile = False,
        channels_last: bool = False,
        input_shape: Optional[tuple[int, int, int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        if not channels or any(c < 1 for c in channels):
            raise ConfigError(f"model 'cnn': channels must be a non-empty list of positive counts, got {channels}")
        if kernel_size < 1 or stride < 1 or pool_size < 1 or hidden_size < 1:
            raise ConfigError("model 'cnn': kernel_size, stride, pool_size and hidden_size must be >= 1")
        if padding == "same" and stride != 1:
            raise ConfigError("model 'cnn': padding 'same' needs stride 1; give an integer padding for strided convolutions")
        if pooling not in ("max", "avg", "none"):
            raise ConfigError(f"model 'cnn': pooling must be 'max', 'avg' or 'none', got {pooling!r}")
        _check_activation_and_dropout("cnn", activation, dropout)
        super().__init__(input_shape=input_shape, num_classes=num_classes, output=output, loss=loss, optimizer=optimizer,
                         compile=compile, channels_last=channels_last)

    def build_network(self, input_shape: tuple[int, int, int], num_outputs: int) -> nn.Module:
        hp = self.hparams
        layers: list[nn.Module] = []
        in_channels, size = input_shape[0], min(input_shape[1:])
        for block, out_channels in enumerate(hp.channels, start=1):
            layers.append(nn.Conv2d(in_channels, out_channels, hp.kernel_size, hp.stride, hp.padding))
            if hp.batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(_activation(hp.activation))
            # output size of a convolution: floor((n + 2p - k) / s) + 1
            if hp.padding != "same":
                size = (size + 2 * hp.padding - hp.kernel_size) // hp.stride + 1
            if hp.pooling != "none" and size >= hp.pool_size:
                layers.append((nn.MaxPool2d if hp.pooling == "max" else nn.AvgPool2d)(hp.pool_size))
                size //= hp.pool_size
            if size < 1:
                raise ConfigError(
                    f"model 'cnn': a {input_shape[1]}x{input_shape[2]} input shrinks to nothing at conv block {block}; "
                    "use fewer blocks, a smaller kernel or stride, or more padding"
                )
            in_channels = out_channels
        features = nn.Sequential(*layers)
        features.eval()  # the shape probe must not touch batch-norm running statistics
        with torch.no_grad():
            flat = features(torch.zeros(2, *input_shape)).flatten(1).shape[1]  # (2, C*H*W)
        features.train()
        head = [nn.Flatten(), nn.Linear(flat, hp.hidden_size), _activation(hp.activation)]
        if hp.dropout:
            head.append(nn.Dropout(hp.dropout))
        head.append(nn.Linear(hp.hidden_size, num_outputs))
        return nn.Sequential(features, *head)
