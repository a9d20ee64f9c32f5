"""How a GAN draws samples: from the moving average of its generator when there is one, in eval mode, without
gradients, in the data's range; every stage of a stacked generator; and the truncation trick on the noise."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.nn.ema import evaluation_mode


class GeneratorSampling:
    """Sampling for the adversarial loop (mixed into ``AdversarialModule``, whose hooks it calls)."""

    @property
    def sampling_generator(self) -> nn.Module:
        """The moving average of the generator when there is one (it draws better samples), else the generator."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def sample_stages(self, n: Optional[int] = None, noise: Optional[Tensor] = None,
                      condition: Optional[Tensor] = None) -> dict[str, Tensor]:
        """Samples of every stage (earlier stages first, then ``stage_name``), in the data's range. ``noise``
        (B, latent) and ``condition`` default to fresh noise and ``default_condition``."""
        count = noise.shape[0] if noise is not None else (condition.shape[0] if condition is not None else (n or 64))
        z = noise if noise is not None else self.noise(count)
        condition = self.default_condition(z.shape[0]) if condition is None else condition
        generator = self.sampling_generator
        with evaluation_mode(generator):
            generated = self.generate(z, condition, generator)
        stages = {name: self.stage_range(name, images) for name, images in generated.stages.items()}
        return {**stages, self.stage_name: self.to_data_range(generated.samples)}

    def stage_range(self, name: str, images: Tensor) -> Tensor:
        """An earlier stage's images in the data's range (the same range as the final samples by default)."""
        return self.to_data_range(images)

    def truncate(self, noise: Tensor, psi: float) -> Tensor:
        """The truncation trick: noise (B, latent) moved toward the mean latent, mean + psi * (z - mean); the mean of
        N(0, I) is 0. psi = 1 leaves the noise as drawn, psi = 0 gives every sample the mean latent's image."""
        if not 0.0 <= psi <= 1.0:
            raise ConfigError(f"truncation psi must be in [0, 1], got {psi}")
        return psi * noise

    def sample(self, n: Optional[int] = None, noise: Optional[Tensor] = None, condition: Optional[Tensor] = None) -> Tensor:
        """Samples in the data's range (images in [0, 1]); see ``sample_stages``."""
        return self.sample_stages(n, noise, condition)[self.stage_name]

    def forward(self, noise: Tensor, condition: Optional[Tensor] = None) -> Tensor:
        return self.generate(noise, condition).samples
