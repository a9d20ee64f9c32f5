"""DF-GAN networks (Tao et al., 2022): a one-stage generator whose deep text-image fusion blocks condition every
up-sampling block on the sentence, and a residual discriminator with a joint (image, sentence) head.

A fusion block (``DeepFusion``) applies, twice, a channel-wise affine transform predicted from the sentence
vector (``SentenceAffine``: gamma(s) * x + beta(s), each an MLP of the sentence) followed by LeakyReLU(0.2); every
generator block (``FusionUpBlock``) up-samples, then fuses, convolves, fuses and convolves, with a shortcut.
Images are in [-1, 1]; sentences arrive as vectors (B, T) from a learned encoder or a pre-computed file.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft.errors import ConfigError


def _levels(image_size: int) -> int:
    """Up-sampling (or down-sampling) steps between 4x4 and ``image_size``: it must be 4 * 2^k, k >= 1."""
    steps = math.log2(image_size / 4) if image_size >= 8 else -1
    if steps < 1 or not steps.is_integer():
        raise ConfigError(f"dfgan: the image size must be 4 times a power of two (8, 16, 32, 64, ...), got {image_size}")
    return int(steps)


def channel_plan(width: int, image_size: int) -> list[int]:
    """Channels from the 4x4 map up to the full-size map: width * [8, 8, 4, 2, 1, ...] as in DF-GAN
    (width * min(2^i, 8) for i from the finest level up, read coarse to fine); one entry per level."""
    levels = _levels(image_size)
    return [width * min(2**i, 8) for i in range(levels + 1)][::-1]


class SentenceAffine(nn.Module):
    """gamma(s) * x + beta(s), channel by channel; gamma and beta are two-layer MLPs of the sentence s (B, T).

    Initialised as the identity (gamma's last layer 0 weight and 1 bias, beta's 0 and 0), so training starts
    from the unconditioned features and learns how the sentence moves them."""

    def __init__(self, sentence_dim: int, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Sequential(nn.Linear(sentence_dim, channels), nn.ReLU(), nn.Linear(channels, channels))
        self.beta = nn.Sequential(nn.Linear(sentence_dim, channels), nn.ReLU(), nn.Linear(channels, channels))
        nn.init.zeros_(self.gamma[2].weight)
        nn.init.ones_(self.gamma[2].bias)
        nn.init.zeros_(self.beta[2].weight)
        nn.init.zeros_(self.beta[2].bias)

    def forward(self, x: Tensor, sentence: Tensor) -> Tensor:
        return self.gamma(sentence)[:, :, None, None] * x + self.beta(sentence)[:, :, None, None]  # (B, C, H, W)


class DeepFusion(nn.Module):
    """DF-GAN's fusion block: affine(s), LeakyReLU(0.2), affine(s), LeakyReLU(0.2); stacking the two affine
    transforms with a non-linearity between them lets the sentence act on the features non-linearly."""

    def __init__(self, sentence_dim: int, channels: int) -> None:
        super().__init__()
        self.first, self.second = SentenceAffine(sentence_dim, channels), SentenceAffine(sentence_dim, channels)

    def forward(self, x: Tensor, sentence: Tensor) -> Tensor:
        x = F.leaky_relu(self.first(x, sentence), 0.2)
        return F.leaky_relu(self.second(x, sentence), 0.2)


class FusionUpBlock(nn.Module):
    """x -> up-sampled x2 (nearest) -> shortcut (1x1 convolution when the channels change) + residual
    (fuse, 3x3 convolution, fuse, 3x3 convolution)."""

    def __init__(self, condition_dim: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.fuse_in, self.fuse_out = DeepFusion(condition_dim, in_channels), DeepFusion(condition_dim, out_channels)
        self.conv_in = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.conv_out = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")  # (B, C_in, 2H, 2W)
        residual = self.conv_out(self.fuse_out(self.conv_in(self.fuse_in(x, condition)), condition))
        return self.shortcut(x) + residual  # (B, C_out, 2H, 2W)


class FusionGenerator(nn.Module):
    """noise z -> Linear -> a (8 width, 4, 4) map -> fusion up-blocks conditioned on [z, sentence] -> image.

    As in DF-GAN, the blocks read the noise beside the sentence, so each block can vary what the sentence
    leaves open (position, exact size)."""

    def __init__(self, noise_dim: int, sentence_dim: int, image_size: int, width: int = 8) -> None:
        super().__init__()
        channels = channel_plan(width, image_size)
        self.start_channels = channels[0]
        self.project = nn.Linear(noise_dim, channels[0] * 16)
        self.blocks = nn.ModuleList(
            FusionUpBlock(noise_dim + sentence_dim, c_in, c_out) for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )
        self.to_image = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(channels[-1], 3, 3, 1, 1), nn.Tanh())

    def forward(self, noise: Tensor, sentence: Tensor) -> Tensor:
        x = self.project(noise).view(noise.shape[0], self.start_channels, 4, 4)  # (B, 8w, 4, 4)
        condition = torch.cat([noise, sentence], dim=1)  # (B, Z + T)
        for block in self.blocks:
            x = block(x, condition)
        return self.to_image(x)  # (B, 3, S, S)


class ResidualDownBlock(nn.Module):
    """x -> shortcut (1x1 convolution when the channels change, average-pooled x2) + gamma * residual (4x4 stride-2
    and 3x3 convolutions with LeakyReLU), gamma learned from 0, as in DF-GAN's discriminator."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False), nn.LeakyReLU(0.2),
        )
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(self.shortcut(x), 2) + self.gamma * self.residual(x)  # (B, C_out, H/2, W/2)


class FusionDiscriminator(nn.Module):
    """Image -> (8 width, 4, 4) features; ``judge`` joins the sentence, replicated over the 4x4 map, to them and
    convolves to one logit per (image, sentence) pair (DF-GAN's one-way output: no separate image-only head)."""

    def __init__(self, image_size: int, sentence_dim: int, width: int = 8) -> None:
        super().__init__()
        channels = channel_plan(width, image_size)[::-1]  # fine to coarse
        self.from_image = nn.Conv2d(3, channels[0], 3, 1, 1)
        pairs = zip(channels[:-1], channels[1:], strict=True)
        self.blocks = nn.Sequential(*[ResidualDownBlock(c_in, c_out) for c_in, c_out in pairs])  # (B, 8w, 4, 4) at the end
        self.joint = nn.Sequential(
            nn.Conv2d(channels[-1] + sentence_dim, 2 * width, 3, 1, 1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 4, 1, 0, bias=False),
        )

    def features(self, images: Tensor) -> Tensor:
        return self.blocks(self.from_image(images))  # (B, 8w, 4, 4)

    def judge(self, features: Tensor, sentence: Tensor) -> Tensor:
        """One logit per pair: high when the image is real and shows the sentence."""
        tiled = sentence[:, :, None, None].expand(-1, -1, features.shape[2], features.shape[3])  # (B, T, 4, 4)
        return self.joint(torch.cat([features, tiled], dim=1)).flatten()  # (B,)


class SentenceGenerator(nn.Module):
    """The generator's own text encoder + the fusion generator, trained together by the generator's optimiser."""

    def __init__(self, text_encoder: nn.Module, net: FusionGenerator) -> None:
        super().__init__()
        self.text_encoder, self.net = text_encoder, net

    def forward(self, noise: Tensor, text: Tensor) -> Tensor:
        return self.net(noise, self.text_encoder(text))


class SentenceDiscriminator(nn.Module):
    """The discriminator's own text encoder + the fusion discriminator."""

    def __init__(self, text_encoder: nn.Module, net: FusionDiscriminator) -> None:
        super().__init__()
        self.text_encoder, self.net = text_encoder, net

    def forward(self, image: Tensor, text: Tensor) -> Tensor:
        return self.net.judge(self.net.features(image), self.text_encoder(text))


def matching_aware_penalty(logits: Tensor, images: Tensor, sentences: Tensor, weight: float = 2.0,
                           power: float = 6.0) -> Tensor:
    """DF-GAN's MA-GP: weight * mean_i ||(d logit_i / d image_i, d logit_i / d sentence_i)||_2 ^ power, taken on
    (real image, matching sentence) pairs, so the discriminator is smooth around the real, matching data.
    ``images`` and ``sentences`` must be part of the graph that computed ``logits`` (B,)."""
    image_grad, sentence_grad = torch.autograd.grad(logits.sum(), (images, sentences), create_graph=True)
    joint = torch.cat([image_grad.flatten(1), sentence_grad.flatten(1)], dim=1)  # (B, C*H*W + T)
    return weight * joint.norm(2, dim=1).pow(power).mean()
