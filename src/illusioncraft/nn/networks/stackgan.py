"""StackGAN networks (Zhang et al., 2017): conditioning augmentation, Stage-I and Stage-II generators, and the
matching-aware discriminator with a conditional (image + text) and an optional unconditional (image only) head.

Images are in [-1, 1]. Text arrives as a sentence vector (B, T) from a learned encoder or a pre-computed file.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from illusioncraft.errors import ConfigError

HEADS = ("concat", "projection")


def kl_to_standard_normal(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(log_var))) || N(0, I)) per condition dimension, averaged over dimensions and batch.

    The mean over dimensions (not the sum) is StackGAN's normalisation, for which its KL weight of 2.0 is tuned:
    summed over 64+ dimensions the same weight drives the condition to pure noise and the text is lost.
    """
    return 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).mean()


class ConditioningAugmentation(nn.Module):
    """Sentence vector -> (mu, log sigma^2) -> reparameterised condition c = mu + sigma * eps.

    Sampling c instead of using a fixed vector gives the generator many conditions per caption, which smooths
    the conditioning manifold; the KL term (weighted in the loss) keeps it close to N(0, I).
    """

    def __init__(self, text_dim: int, condition_dim: int) -> None:
        super().__init__()
        self.project = nn.Linear(text_dim, 2 * condition_dim)
        self.condition_dim = condition_dim

    def forward(self, text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, log_var = self.project(text).chunk(2, dim=1)  # (B, condition_dim) each
        condition = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
        return condition, mu, log_var


def _up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Nearest-neighbour up-sampling x2 then a 3x3 convolution (fewer checkerboard artefacts than strided deconv)."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _down_block(in_channels: int, out_channels: int, norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def _doublings(start: int, end: int, what: str) -> int:
    if end < start or end % start or (end // start) & (end // start - 1):
        raise ConfigError(f"stackgan: {what} must be a power-of-two multiple of {start}, got {end}")
    return int(math.log2(end // start))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x + self.body(x))


class StageOneGenerator(nn.Module):
    """[z, c] -> a 4x4 map -> up-sampling blocks -> a coarse (3, S, S) image in [-1, 1]."""

    def __init__(self, noise_dim: int, condition_dim: int, image_size: int, width: int = 32) -> None:
        super().__init__()
        ups = _doublings(4, image_size, "the Stage-I image size")
        channels = width * 2 ** min(ups, 3)
        self.project = nn.Sequential(
            nn.Linear(noise_dim + condition_dim, channels * 16, bias=False), nn.BatchNorm1d(channels * 16), nn.ReLU(inplace=True)
        )
        self.start_channels = channels
        blocks = []
        for _ in range(ups):
            blocks.append(_up_block(channels, max(channels // 2, width)))
            channels = max(channels // 2, width)
        self.up = nn.Sequential(*blocks)
        self.to_image = nn.Sequential(nn.Conv2d(channels, 3, 3, 1, 1), nn.Tanh())

    def forward(self, noise: Tensor, condition: Tensor) -> Tensor:
        x = self.project(torch.cat([noise, condition], dim=1)).view(noise.shape[0], self.start_channels, 4, 4)
        return self.to_image(self.up(x))  # (B, 3, S, S)


class StageTwoGenerator(nn.Module):
    """Stage-I image + c -> encoded to S1/4 -> joined with c -> residual blocks -> up-sampled to S2, in [-1, 1].

    It corrects the Stage-I image's defects and adds detail, reading the caption again through its own condition.
    The network predicts a correction of the bilinearly enlarged Stage-I image (in tanh's pre-activation space,
    zero at initialisation), so training starts from what Stage-I draws instead of from noise. With
    ``stage1_skip`` an extra full-resolution Conv-BN-ReLU before the output layer also reads the enlarged Stage-I
    image, so the correction can follow its edges instead of recovering them from the S1/4 code.
    """

    def __init__(self, condition_dim: int, stage1_size: int, image_size: int, width: int = 32, residual_blocks: int = 2,
                 stage1_skip: bool = False) -> None:
        super().__init__()
        if stage1_size < 8:
            raise ConfigError(f"stackgan_stage2: the Stage-I images must be at least 8 px, got {stage1_size}")
        ups = _doublings(stage1_size // 4, image_size, "the Stage-II image size (a multiple of Stage-I's)")
        if image_size <= stage1_size:
            raise ConfigError(f"stackgan_stage2: image size {image_size} must exceed Stage-I's {stage1_size}")
        self.image_size = image_size
        channels = width * 4
        self.encode = nn.Sequential(
            nn.Conv2d(3, width, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.ReLU(inplace=True),
            nn.Conv2d(width * 2, channels, 4, 2, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
        )  # (B, 4w, S1/4, S1/4)
        self.join = nn.Sequential(
            nn.Conv2d(channels + condition_dim, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)
        )
        self.residual = nn.Sequential(*[ResidualBlock(channels) for _ in range(residual_blocks)])
        blocks = []
        for _ in range(ups):
            blocks.append(_up_block(channels, max(channels // 2, width // 2)))
            channels = max(channels // 2, width // 2)
        self.up = nn.Sequential(*blocks)
        self.skip = nn.Sequential(
            nn.Conv2d(channels + 3, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)
        ) if stage1_skip else None
        self.to_correction = nn.Conv2d(channels, 3, 3, 1, 1)
        nn.init.zeros_(self.to_correction.weight)
        nn.init.zeros_(self.to_correction.bias)

    def forward(self, stage1_image: Tensor, condition: Tensor) -> Tensor:
        x = self.encode(stage1_image)
        c = condition[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # (B, C_c, S1/4, S1/4)
        features = self.up(self.residual(self.join(torch.cat([x, c], dim=1))))  # (B, C, S2, S2)
        enlarged = nn.functional.interpolate(stage1_image, size=self.image_size, mode="bilinear", align_corners=False)
        if self.skip is not None:
            features = self.skip(torch.cat([features, enlarged], dim=1))
        correction = self.to_correction(features)  # (B, 3, S2, S2)
        return torch.tanh(torch.atanh(enlarged.clamp(-0.999, 0.999)) + correction)


class MatchingDiscriminator(nn.Module):
    """Image -> 4x4 features; a conditional head judges (image, text) pairs, an optional one judges the image alone.

    ``features`` and the heads are separate so one image's features serve both its right and its wrong caption.
    The conditional head is StackGAN's ``concat`` (the compressed text replicated over the 4x4 map, joined to the
    features, then convolutions) or ``projection`` (Miyato & Koyama, 2018): logit = w . phi(x) + <W t, phi(x)>,
    with phi(x) the features summed over space, which ties each text direction to image features directly.
    """

    def __init__(
        self, image_size: int, text_dim: int, condition_dim: int, width: int = 32, unconditional: bool = False,
        head: str = "concat", contrastive: bool = False,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ConfigError(f"stackgan: discriminator_head must be one of {', '.join(HEADS)}, got {head!r}")
        downs = _doublings(4, image_size, "the discriminator's image size")
        blocks = [_down_block(3, width, norm=False)]
        channels = width
        for _ in range(downs - 1):
            blocks.append(_down_block(channels, min(channels * 2, width * 8)))
            channels = min(channels * 2, width * 8)
        self.features = nn.Sequential(*blocks)  # (B, channels, 4, 4)
        self.head = head
        if head == "concat":
            self.compress_text = nn.Sequential(nn.Linear(text_dim, condition_dim), nn.LeakyReLU(0.2, inplace=True))
            self.conditional_head = nn.Sequential(
                nn.Conv2d(channels + condition_dim, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels),
                nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(channels, 1, 4, 1, 0),
            )
        else:
            self.image_score = nn.Linear(channels, 1)
            self.text_projection = nn.Linear(text_dim, channels, bias=False)
        self.unconditional_head: Optional[nn.Module] = nn.Conv2d(channels, 1, 4, 1, 0) if unconditional else None
        self.contrast_image = nn.Linear(channels, condition_dim) if contrastive else None
        self.contrast_text = nn.Linear(text_dim, condition_dim) if contrastive else None

    def judge(self, features: Tensor, text: Tensor) -> Tensor:
        """One logit per (image, caption) pair: high when the image is real and shows the caption."""
        if self.head == "projection":
            pooled = features.sum(dim=(2, 3))  # (B, C)
            return self.image_score(pooled).squeeze(1) + (self.text_projection(text) * pooled).sum(dim=1)  # (B,)
        t = self.compress_text(text)[:, :, None, None].expand(-1, -1, features.shape[2], features.shape[3])
        return self.conditional_head(torch.cat([features, t], dim=1)).flatten()  # (B,)

    def judge_image(self, features: Tensor) -> Optional[Tensor]:
        return None if self.unconditional_head is None else self.unconditional_head(features).flatten()

    def contrastive_loss(self, features: Tensor, text: Tensor, temperature: float = 0.1) -> Tensor:
        """Image-text contrastive loss (XMC-GAN, Zhang et al., 2021): image i must pick caption i among the batch's
        captions and caption i image i (cross-entropy both ways over cosine similarities / ``temperature``).

        Every other caption of the batch is a negative, so captions that differ from the right one in a single
        attribute teach that attribute; one random wrong caption rarely does.
        """
        if self.contrast_image is None or self.contrast_text is None:
            raise ConfigError("stackgan: this discriminator was built without the contrastive heads")
        image = nn.functional.normalize(self.contrast_image(features.sum(dim=(2, 3))), dim=1)  # (B, E)
        words = nn.functional.normalize(self.contrast_text(text), dim=1)  # (B, E)
        logits = image @ words.T / temperature  # (B, B): row i scores image i against every caption
        target = torch.arange(logits.shape[0], device=logits.device)
        return 0.5 * (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target))


class TextConditionedGenerator(nn.Module):
    """Text encoder + conditioning augmentation + an image generator, trained together by the generator's optimiser."""

    def __init__(self, text_encoder: nn.Module, augmentation: ConditioningAugmentation, net: nn.Module) -> None:
        super().__init__()
        self.text_encoder, self.augmentation, self.net = text_encoder, augmentation, net

    def forward(self, source: Tensor, text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``source`` is noise (Stage-I) or the Stage-I image (Stage-II); returns (image, mu, log_var)."""
        condition, mu, log_var = self.augmentation(self.text_encoder(text))
        return self.net(source, condition), mu, log_var


class TextConditionedDiscriminator(nn.Module):
    """The discriminator's own text encoder (apart from the generator's) + the matching-aware discriminator."""

    def __init__(self, text_encoder: nn.Module, net: MatchingDiscriminator) -> None:
        super().__init__()
        self.text_encoder, self.net = text_encoder, net

    def forward(self, image: Tensor, text: Tensor) -> Tensor:
        return self.net.judge(self.net.features(image), self.text_encoder(text))
