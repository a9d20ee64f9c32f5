"""A small residual CNN built on IllusionCraft's shared classifier loop (only the network is new)."""

from typing import Optional

from torch import Tensor, nn

from illusioncraft.plugin_api import Classifier, ConfigError, LossSpec, OptimizerSpec, register, registry


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity shortcut: y = act(x + F(x))."""

    def __init__(self, channels: int, activation: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            registry.build("activation", activation),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.activation = registry.build("activation", activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(x + self.body(x))  # (B, C, H, W)


@register("residual_cnn")
class ResidualCNN(Classifier):
    """Residual CNN: a stem convolution, ``blocks`` residual blocks, global average pooling, linear head."""

    def __init__(
        self,
        width: int = 32,
        blocks: int = 2,
        activation: str = "swish",
        optimizer: OptimizerSpec = "adam",
        loss: Optional[LossSpec] = None,
        input_shape: Optional[tuple[int, int, int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        if width < 1 or blocks < 0:
            raise ConfigError(f"model 'residual_cnn': width must be >= 1 and blocks >= 0, got {width}, {blocks}")
        registry.get("activation", activation)
        super().__init__(input_shape=input_shape, num_classes=num_classes, loss=loss, optimizer=optimizer)

    def build_network(self, input_shape: tuple[int, int, int], num_outputs: int) -> nn.Module:
        hp = self.hparams
        return nn.Sequential(
            nn.Conv2d(input_shape[0], hp.width, 3, padding=1, bias=False),
            nn.BatchNorm2d(hp.width),
            registry.build("activation", hp.activation),
            *[ResidualBlock(hp.width, hp.activation) for _ in range(hp.blocks)],
            nn.AdaptiveAvgPool2d(1),  # (B, width, 1, 1)
            nn.Flatten(),
            nn.Linear(hp.width, num_outputs),
        )
