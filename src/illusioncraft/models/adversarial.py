"""The shared GAN training loop, and the GAN variants built on it (each is a generator, a discriminator and a loss).

One training step: the discriminator (critic) takes a step on every batch; the generator takes one after every
``n_critic`` discriminator steps. Options: a per-sample gradient penalty on real/fake interpolates (WGAN-GP),
weight clipping (WGAN), an exponential moving average of the generator's weights for sampling, and a fixed
noise batch for sample pictures. Losses work on logits (``illusioncraft.losses.adversarial``).

Images arrive from the datamodule in [0, 1] (set ``normalize: false`` on the datamodule) and are mapped to
[-1, 1], the range of the generator's tanh output; 2-D points are used as they are.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, Optional

import torch
from lightning.pytorch import Callback, LightningModule
from torch import Tensor, nn

from illusioncraft import registry
from illusioncraft.errors import ConfigError
from illusioncraft.losses.adversarial import AdversarialLoss
from illusioncraft.models.gan_nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    Norm,
    dcgan_init,
)
from illusioncraft.nn.optim import OptimizerSpec, build_optimizer, check_optimizer_spec
from illusioncraft.registry import register

Architecture = Literal["mlp", "dcgan"]
LRDecay = Literal["none", "linear"]


def gradient_penalty(discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] with one interpolate and one gradient norm per sample (Gulrajani et al.)."""
    alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)  # (B, 1, ...)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (gradients,) = torch.autograd.grad(discriminator(interpolates).sum(), interpolates, create_graph=True)
    norms = gradients.flatten(1).norm(2, dim=1)  # (B,): one norm per sample, not over the batch
    return ((norms - 1) ** 2).mean()


class AdversarialModule(LightningModule):
    """Shared GAN loop with manual optimisation; subclasses only choose defaults (nets, loss, optimisers)."""

    checkpoint_monitor: tuple[Optional[str], str] = (None, "min")

    def __init__(
        self,
        architecture: Architecture = "mlp",
        latent_dim: int = 64,
        loss: str = "non_saturating",
        n_critic: int = 1,
        gradient_penalty: Optional[float] = None,
        weight_clip: Optional[float] = None,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        hidden_size: int = 128,
        depth: int = 3,
        width: int = 32,
        discriminator_norm: Norm = "batch",
        n_eval_samples: int = 2500,
        diffaugment: Optional[str] = None,
        pack: int = 1,
        lr_decay: LRDecay = "none",
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        super().__init__()
        if architecture not in ("mlp", "dcgan"):
            raise ConfigError(f"model: architecture must be 'mlp' or 'dcgan', got {architecture!r}")
        if n_critic < 1:
            raise ConfigError(f"model: n_critic must be >= 1, got {n_critic}")
        if gradient_penalty is not None and gradient_penalty < 0:
            raise ConfigError(f"model: gradient_penalty (lambda) must be >= 0, got {gradient_penalty}")
        if weight_clip is not None and weight_clip <= 0:
            raise ConfigError(f"model: weight_clip must be > 0, got {weight_clip}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ConfigError(f"model: ema_decay must be in (0, 1), got {ema_decay}")
        if latent_dim < 1:
            raise ConfigError(f"model: latent_dim must be >= 1, got {latent_dim}")
        if pack < 1:
            raise ConfigError(f"model: pack must be >= 1, got {pack}")
        if lr_decay not in ("none", "linear"):
            raise ConfigError(f"model: lr_decay must be 'none' or 'linear', got {lr_decay!r}")
        self.loss_fn: AdversarialLoss = registry.build("loss", loss)
        if not isinstance(self.loss_fn, AdversarialLoss):
            raise ConfigError(f"model: loss '{loss}' is not an adversarial loss (see `illusioncraft list loss`)")
        check_optimizer_spec(generator_optimizer)
        check_optimizer_spec(discriminator_optimizer)
        self.save_hyperparameters()
        self.automatic_optimization = False
        # Kept as attributes: a subclass's hparams hold only the arguments its own signature exposes.
        self.settings = {
            "architecture": architecture, "latent_dim": latent_dim, "n_critic": n_critic, "weight_clip": weight_clip,
            "ema_decay": ema_decay, "hidden_size": hidden_size, "depth": depth, "width": width,
            "discriminator_norm": discriminator_norm, "n_eval_samples": n_eval_samples,
            "generator_optimizer": generator_optimizer, "discriminator_optimizer": discriminator_optimizer,
            "pack": pack, "lr_decay": lr_decay,
        }
        self.penalty_weight = self.loss_fn.gradient_penalty if gradient_penalty is None else gradient_penalty
        # DiffAugment (Zhao et al., 2020): the same differentiable augmentation on real and fake before D.
        self.discriminator_augment = registry.build("augmentation", "diffaugment", policy=diffaugment) if diffaugment else None
        self.generator: Optional[nn.Module] = None
        self.discriminator: Optional[nn.Module] = None
        self.generator_ema: Optional[nn.Module] = None
        self.discriminator_steps = self.generator_steps = 0
        self.register_buffer("fixed_noise", torch.randn(64, latent_dim, generator=torch.Generator().manual_seed(0)))
        if data_shape is not None:
            self._build(tuple(data_shape))

    # -- networks ---------------------------------------------------------------------------------------------
    def make_networks(
        self, input_dim: int, output_shape: tuple[int, ...], judged_shape: tuple[int, ...]
    ) -> tuple[nn.Module, nn.Module]:
        """Generator from ``input_dim`` to ``output_shape``; discriminator of inputs shaped ``judged_shape``."""
        s = self.settings
        if s["architecture"] == "dcgan":
            generator = DCGANGenerator(input_dim, output_shape, s["width"])
            discriminator = DCGANDiscriminator(judged_shape, s["width"], s["discriminator_norm"])
            generator.apply(dcgan_init)
            discriminator.apply(dcgan_init)
            return generator, discriminator
        return (MLPGenerator(input_dim, output_shape, s["hidden_size"], s["depth"]),
                MLPDiscriminator(judged_shape, s["hidden_size"], s["depth"]))

    def _build(self, data_shape: tuple[int, ...]) -> None:
        s = self.settings
        self.data_shape = data_shape
        judged_shape = (s["pack"] * data_shape[0], *data_shape[1:])  # PacGAN: the discriminator sees `pack` samples at once
        self.generator, self.discriminator = self.make_networks(s["latent_dim"], data_shape, judged_shape)
        if s["ema_decay"] is not None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    def setup(self, stage: str) -> None:
        if self.generator is not None:
            return
        data = self.trainer.datamodule
        shape = getattr(data, "data_shape", None) or getattr(data, "image_shape", None)
        if shape is None:
            raise ConfigError("model: data_shape is not set and the datamodule does not provide it")
        self.hparams.data_shape = tuple(shape)
        self._build(tuple(shape))

    @property
    def is_image_model(self) -> bool:
        return len(self.data_shape) == 3

    def to_model_range(self, x: Tensor) -> Tensor:
        return x * 2 - 1 if self.is_image_model else x  # images [0, 1] -> [-1, 1]

    def to_data_range(self, x: Tensor) -> Tensor:
        return (x + 1) / 2 if self.is_image_model else x

    def noise(self, n: int) -> Tensor:
        return torch.randn(n, self.settings["latent_dim"], device=self.device)

    conditional = False  # class-conditional models take labels in both networks

    def generate(self, z: Tensor, labels: Optional[Tensor] = None, generator: Optional[nn.Module] = None) -> Tensor:
        generator = generator or self.generator
        return generator(z, labels) if self.conditional else generator(z)

    def packed(self, x: Tensor) -> Tensor:
        """PacGAN (Lin et al., 2018): groups of ``pack`` consecutive samples joined along the first data axis,
        (B, C, ...) -> (B // pack, pack * C, ...), so the discriminator judges sets and sees a lack of variety.
        A remainder of fewer than ``pack`` samples is left out."""
        pack = self.settings["pack"]
        if pack == 1:
            return x
        usable = x.shape[0] - x.shape[0] % pack
        if usable == 0:
            raise ConfigError(f"model: a batch of {x.shape[0]} samples is smaller than pack ({pack})")
        return x[:usable].reshape(usable // pack, pack * x.shape[1], *x.shape[2:])

    def discriminate(self, x: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        if self.discriminator_augment is not None and self.training:
            x, _ = self.discriminator_augment(x, labels)
        return self.discriminator(x, labels) if self.conditional else self.discriminator(self.packed(x))

    def random_labels(self, n: int) -> Optional[Tensor]:
        return None

    @torch.no_grad()
    def sample(self, n: Optional[int] = None, noise: Optional[Tensor] = None, labels: Optional[Tensor] = None) -> Tensor:
        """Samples in the data's range (images in [0, 1]), from the EMA generator when there is one."""
        generator = self.generator_ema if self.generator_ema is not None else self.generator
        was_training = generator.training
        generator.eval()
        z = noise if noise is not None else self.noise(n or 64)
        if self.conditional and labels is None:
            labels = torch.arange(z.shape[0], device=z.device) % self.num_classes  # every class in turn
        samples = self.to_data_range(self.generate(z, labels, generator))
        generator.train(was_training)
        return samples

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        return self.generate(z, labels)

    # -- training ---------------------------------------------------------------------------------------------
    def discriminator_loss(self, real: Tensor, fake: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        loss = self.loss_fn.discriminator(self.discriminate(real, labels), self.discriminate(fake, labels))
        if self.penalty_weight:
            if self.conditional or self.discriminator_augment is not None:
                critic, real, fake = (lambda x: self.discriminate(x, labels)), real, fake
            else:  # one interpolate and one gradient norm per (packed) discriminator input
                critic, real, fake = self.discriminator, self.packed(real), self.packed(fake)
            loss = loss + self.penalty_weight * gradient_penalty(critic, real, fake)
        return loss

    def generator_loss(self, real: Tensor) -> Tensor:
        """The generator's loss for a batch the size of ``real`` (the real batch itself is for look-ahead variants)."""
        batch_size = real.shape[0]
        labels = self.random_labels(batch_size)
        return self.loss_fn.generator(self.discriminate(self.generate(self.noise(batch_size), labels), labels))

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = self.to_model_range(batch[0] if isinstance(batch, (tuple, list)) else batch)
        labels = batch[1] if self.conditional else None
        opt_g, opt_d = self.optimizers()
        self.decay_learning_rates(opt_g, opt_d)
        with self.toggled_optimizer(opt_d):
            with torch.no_grad():
                fake = self.generate(self.noise(real.shape[0]), labels)
            d_loss = self.discriminator_loss(real, fake, labels)
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.step()
        if self.settings["weight_clip"] is not None:
            clip = self.settings["weight_clip"]
            for parameter in self.discriminator.parameters():
                parameter.data.clamp_(-clip, clip)
        self.log("train/d_loss", d_loss, prog_bar=True)
        self.discriminator_steps += 1
        if self.discriminator_steps % self.settings["n_critic"] == 0:
            with self.toggled_optimizer(opt_g):
                g_loss = self.generator_loss(real)
                opt_g.zero_grad()
                self.manual_backward(g_loss)
                opt_g.step()
            self.generator_steps += 1
            self._update_ema()
            self.log("train/g_loss", g_loss, prog_bar=True)

    def decay_learning_rates(self, *optimizers: Any) -> None:
        """``lr_decay: linear``: both learning rates fall linearly from their set values to 0 over the run's
        batches (``trainer.estimated_stepping_batches``), so the last steps refine instead of oscillating.
        The position comes from the discriminator's step counter, which checkpoints keep."""
        if self.settings["lr_decay"] == "none":
            return
        total = self.trainer.estimated_stepping_batches
        if not 0 < total < float("inf"):
            raise ConfigError("model: lr_decay 'linear' needs a finite run (set trainer.max_epochs or trainer.max_steps)")
        factor = max(0.0, 1.0 - self.discriminator_steps / total)
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.generator_ema is None:
            return
        decay = self.settings["ema_decay"]
        for ema, current in zip(self.generator_ema.parameters(), self.generator.parameters(), strict=True):
            ema.lerp_(current, 1 - decay)
        for ema, current in zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True):
            ema.copy_(current)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        s = self.settings
        return [
            build_optimizer(s["generator_optimizer"], self.generator.parameters()),
            build_optimizer(s["discriminator_optimizer"], self.discriminator.parameters()),
        ]

    # -- evaluation -------------------------------------------------------------------------------------------
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Nothing per batch: the generator is scored once per epoch in ``on_validation_epoch_end``."""

    def on_validation_epoch_end(self) -> None:
        data = self.trainer.datamodule
        if hasattr(data, "modes") and hasattr(data, "std"):
            from illusioncraft.metrics.modes import mode_coverage

            with torch.random.fork_rng(devices=[]):  # scoring must not shift the training run's random stream
                torch.manual_seed(self.current_epoch)
                samples = self.sample(self.settings["n_eval_samples"]).cpu()
            coverage = mode_coverage(samples, data.modes, data.std)
            self.log_dict({
                "val/modes": float(coverage.modes_captured),
                "val/high_quality": coverage.high_quality,
                "val/reverse_kl": coverage.reverse_kl,
            })

    def default_callbacks(self) -> list[Callback]:
        """Sample pictures from the fixed noise, saved in the run directory and sent to W&B."""
        return [registry.build("callback", "gan_samples")]

    # -- checkpoints and DDP ----------------------------------------------------------------------------------
    # Each step trains one network and leaves the other's parameters without gradients: under DDP the CLI turns
    # on find_unused_parameters for models that set this.
    find_unused_parameters = True

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The step counters go into checkpoints, so a resumed run keeps its n_critic schedule."""
        checkpoint["gan_steps"] = {"discriminator": self.discriminator_steps, "generator": self.generator_steps}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        steps = checkpoint.get("gan_steps")
        if steps:
            self.discriminator_steps, self.generator_steps = int(steps["discriminator"]), int(steps["generator"])


def _optimizer_default(spec: OptimizerSpec, default: dict[str, Any]) -> OptimizerSpec:
    return default if spec is None else spec


@register("gan")
class GAN(AdversarialModule):
    """GAN (Goodfellow et al., 2014) with MLP generator and discriminator; minimax or non-saturating loss."""

    def __init__(
        self,
        loss: str = "non_saturating",
        latent_dim: int = 64,
        hidden_size: int = 128,
        depth: int = 3,
        n_critic: int = 1,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        n_eval_samples: int = 2500,
        diffaugment: Optional[str] = None,
        pack: int = 1,
        lr_decay: LRDecay = "none",
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        adam = {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]}
        super().__init__(
            architecture="mlp", latent_dim=latent_dim, loss=loss, n_critic=n_critic, ema_decay=ema_decay,
            generator_optimizer=_optimizer_default(generator_optimizer, adam),
            discriminator_optimizer=_optimizer_default(discriminator_optimizer, adam),
            hidden_size=hidden_size, depth=depth, n_eval_samples=n_eval_samples, data_shape=data_shape, diffaugment=diffaugment,
            pack=pack, lr_decay=lr_decay,
        )


@register("dcgan")
class DCGAN(AdversarialModule):
    """DCGAN (Radford et al., 2016): strided convolutions, batch norm, ReLU/tanh G, LeakyReLU D, Adam 2e-4 (0.5)."""

    def __init__(
        self,
        loss: str = "non_saturating",
        latent_dim: int = 64,
        width: int = 32,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        diffaugment: Optional[str] = None,
        pack: int = 1,
        lr_decay: LRDecay = "none",
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        adam = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
        super().__init__(
            architecture="dcgan", latent_dim=latent_dim, loss=loss, ema_decay=ema_decay, width=width,
            generator_optimizer=_optimizer_default(generator_optimizer, adam),
            discriminator_optimizer=_optimizer_default(discriminator_optimizer, adam), data_shape=data_shape,
            diffaugment=diffaugment, pack=pack, lr_decay=lr_decay,
        )


@register("wgan")
class WGAN(AdversarialModule):
    """WGAN (Arjovsky et al., 2017): Wasserstein critic, weight clipping 0.01, RMSprop 5e-5, 5 critic steps."""

    def __init__(
        self,
        architecture: Architecture = "dcgan",
        latent_dim: int = 64,
        weight_clip: float = 0.01,
        n_critic: int = 5,
        hidden_size: int = 128,
        depth: int = 3,
        width: int = 32,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        n_eval_samples: int = 2500,
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        rmsprop = {"name": "rmsprop", "lr": 5e-5}
        super().__init__(
            architecture=architecture, latent_dim=latent_dim, loss="wasserstein", n_critic=n_critic,
            weight_clip=weight_clip, hidden_size=hidden_size, depth=depth, width=width,
            generator_optimizer=_optimizer_default(generator_optimizer, rmsprop),
            discriminator_optimizer=_optimizer_default(discriminator_optimizer, rmsprop),
            n_eval_samples=n_eval_samples, data_shape=data_shape,
        )


@register("wgan_gp")
class WGANGP(AdversarialModule):
    """WGAN-GP (Gulrajani et al., 2017): per-sample gradient penalty (lambda 10), Adam 1e-4 (0.5, 0.9), 5 critic steps."""

    def __init__(
        self,
        architecture: Architecture = "dcgan",
        latent_dim: int = 64,
        gradient_penalty: float = 10.0,
        n_critic: int = 5,
        hidden_size: int = 128,
        depth: int = 3,
        width: int = 32,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        n_eval_samples: int = 2500,
        diffaugment: Optional[str] = None,
        pack: int = 1,
        lr_decay: LRDecay = "none",
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        adam = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.9]}
        super().__init__(
            architecture=architecture, latent_dim=latent_dim, loss="wasserstein_gp", n_critic=n_critic,
            gradient_penalty=gradient_penalty, ema_decay=ema_decay, hidden_size=hidden_size, depth=depth,
            width=width, discriminator_norm="none",  # batch norm would couple the samples the penalty treats apart
            generator_optimizer=_optimizer_default(generator_optimizer, adam),
            discriminator_optimizer=_optimizer_default(discriminator_optimizer, adam),
            n_eval_samples=n_eval_samples, data_shape=data_shape, diffaugment=diffaugment, pack=pack, lr_decay=lr_decay,
        )


@register("unrolled_gan")
class UnrolledGAN(GAN):
    """Unrolled GAN (Metz et al., 2017): the generator's loss is taken against the discriminator after k more steps.

    The k look-ahead steps are plain gradient steps of size ``unroll_lr`` on a functional copy of the
    discriminator's parameters, kept in the autograd graph, so the generator's gradient includes how the
    discriminator would react; the real discriminator is untouched by them.
    """

    def __init__(
        self,
        unroll_steps: int = 5,
        unroll_lr: float = 1e-3,
        loss: str = "non_saturating",
        latent_dim: int = 64,
        hidden_size: int = 128,
        depth: int = 3,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        n_eval_samples: int = 2500,
        lr_decay: LRDecay = "none",
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        if unroll_steps < 0:
            raise ConfigError(f"model 'unrolled_gan': unroll_steps must be >= 0, got {unroll_steps}")
        if unroll_lr <= 0:
            raise ConfigError(f"model 'unrolled_gan': unroll_lr must be > 0, got {unroll_lr}")
        super().__init__(
            loss=loss, latent_dim=latent_dim, hidden_size=hidden_size, depth=depth,
            generator_optimizer=generator_optimizer, discriminator_optimizer=discriminator_optimizer,
            n_eval_samples=n_eval_samples, lr_decay=lr_decay, data_shape=data_shape,
        )
        self.unroll_steps, self.unroll_lr = unroll_steps, unroll_lr

    def generator_loss(self, real: Tensor) -> Tensor:
        from torch.func import functional_call

        # A detached copy: the look-ahead must not train the real discriminator, only shape G's gradient.
        params = {name: p.detach().clone().requires_grad_(True) for name, p in self.discriminator.named_parameters()}
        batch_size = real.shape[0]
        for _ in range(self.unroll_steps):
            fake = self.generator(self.noise(batch_size))
            d_loss = self.loss_fn.discriminator(
                functional_call(self.discriminator, params, (real,)), functional_call(self.discriminator, params, (fake,))
            )
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True)
            params = {name: p - self.unroll_lr * g for (name, p), g in zip(params.items(), grads, strict=True)}
        fake = self.generator(self.noise(batch_size))
        return self.loss_fn.generator(functional_call(self.discriminator, params, (fake,)))


class ConditionalGenerator(nn.Module):
    """Generator of (z, label): the label's learned embedding is appended to the noise."""

    def __init__(self, base: nn.Module, num_classes: int, embed_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, embed_dim)
        self.base = base

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.base(torch.cat([z, self.embedding(labels)], dim=1))  # (B, latent + embed) -> sample


class ConditionalDiscriminator(nn.Module):
    """Discriminator of (x, label): one-hot label maps appended as channels (images) or features (vectors)."""

    def __init__(self, base: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.base, self.num_classes = base, num_classes

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        one_hot = nn.functional.one_hot(labels, self.num_classes).to(x.dtype)  # (B, K)
        if x.ndim == 4:
            maps = one_hot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # (B, K, H, W)
            return self.base(torch.cat([x, maps], dim=1))
        return self.base(torch.cat([x.flatten(1), one_hot], dim=1))


@register("conditional_gan")
class ConditionalGAN(AdversarialModule):
    """Class-conditional GAN (Mirza & Osindero, 2014): G(z, y) and D(x, y); DCGAN or MLP networks."""

    conditional = True

    def __init__(
        self,
        architecture: Architecture = "dcgan",
        loss: str = "non_saturating",
        latent_dim: int = 64,
        embed_dim: int = 16,
        width: int = 32,
        hidden_size: int = 256,
        depth: int = 3,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        num_classes: Optional[int] = None,
        diffaugment: Optional[str] = None,
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        if embed_dim < 1:
            raise ConfigError(f"model 'conditional_gan': embed_dim must be >= 1, got {embed_dim}")
        if num_classes is not None and num_classes < 2:
            raise ConfigError(f"model 'conditional_gan': num_classes must be >= 2, got {num_classes}")
        self.num_classes, self.embed_dim = num_classes or 0, embed_dim
        adam = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
        super().__init__(
            architecture=architecture, latent_dim=latent_dim, loss=loss, ema_decay=ema_decay, width=width,
            hidden_size=hidden_size, depth=depth,
            generator_optimizer=_optimizer_default(generator_optimizer, adam),
            discriminator_optimizer=_optimizer_default(discriminator_optimizer, adam),
            data_shape=data_shape if num_classes else None, diffaugment=diffaugment,
        )

    def setup(self, stage: str) -> None:
        if self.generator is None and not self.num_classes:
            data = self.trainer.datamodule
            if not getattr(data, "num_classes", 0):
                raise ConfigError("model 'conditional_gan': the datamodule has no classes to condition on")
            self.num_classes = self.hparams.num_classes = data.num_classes
        super().setup(stage)

    def _build(self, data_shape: tuple[int, ...]) -> None:
        s = self.settings
        self.data_shape = data_shape
        k = self.num_classes
        judged = (data_shape[0] + k, *data_shape[1:]) if len(data_shape) == 3 else (int(torch.tensor(data_shape).prod()) + k,)
        generator, discriminator = self.make_networks(s["latent_dim"] + self.embed_dim, data_shape, judged)
        self.generator = ConditionalGenerator(generator, k, self.embed_dim)
        self.discriminator = ConditionalDiscriminator(discriminator, k)
        if s["ema_decay"] is not None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    def random_labels(self, n: int) -> Tensor:
        return torch.randint(0, self.num_classes, (n,), device=self.device)
