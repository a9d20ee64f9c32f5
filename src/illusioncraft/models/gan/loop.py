"""The one adversarial training loop that every GAN in IllusionCraft runs on.

One training step: the discriminator (critic) takes a step on every batch; the generator takes one after every
``n_critic`` discriminator steps. The loop owns what every GAN shares: manual optimisation, learning-rate
decay, the gradient penalty, weight clipping, DiffAugment (or its adaptive form, ADA) before every discriminator
call, PacGAN packing, the regularisers listed in ``regularizers`` (R1, R2, LeCam, bCR, zCR), an exponential moving
average of the generator (used for sampling), the step counters that checkpoints keep and a fixed noise batch for
pictures. A variant is a generator, a discriminator and a loss; it plugs in through
these hooks:

- ``build_networks(data_shape)``: the (generator, discriminator) pair for the data;
- ``condition_of(batch)``: what conditions the generator for a real batch (None, class labels, captions);
- ``generate(noise, condition, generator)``: a fake batch (``Generated``: samples, earlier stages, loss terms);
- ``discriminate(samples, condition)``: the discriminator's logits (augmented and packed here);
- ``discriminator_loss(real, fake, condition, batch)`` and ``generator_loss(real, condition, batch)``:
  (loss, terms to log); the defaults apply the adversarial loss to ``discriminate``'s logits.

Images arrive from the datamodule in [0, 1] (``normalize: false``) and are mapped to [-1, 1], the range of the
generator's tanh output; 2-D points are used as they are. ``sample`` is the one way to draw samples: in the
data's range, from the moving average when there is one, in eval mode, without gradients; ``truncate`` is the
truncation trick applied to its noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import torch
from lightning.pytorch import Callback
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor, nn

from illusioncraft import registry
from illusioncraft.augment.adaptive import AdaptiveAugmentation, ADASettings
from illusioncraft.contracts import NormalizedData, ShapedData
from illusioncraft.errors import ConfigError
from illusioncraft.losses.adversarial import AdversarialLoss
from illusioncraft.losses.spec import LossSpec, build_loss, split_loss_spec
from illusioncraft.models.gan.regularizers.base import JudgedBatch, Regularization, RegularizerSpec
from illusioncraft.models.gan.regularizers.gradient import gradient_penalty
from illusioncraft.models.gan.sampling import GeneratorSampling
from illusioncraft.models.hook_names import QuickHookNames
from illusioncraft.nn.compile import Compile, check_compilable, compile_backend, compile_networks
from illusioncraft.nn.ema import frozen_copy, update_average
from illusioncraft.nn.memory_format import channels_last_batch, to_channels_last
from illusioncraft.nn.optim import OptimizerSpec, build_optimizer, check_optimizer_spec
from illusioncraft.step_logs import log_training_values

LRDecay = Literal["none", "linear"]
Condition = Optional[Tensor]


@dataclass
class Generated:
    """What a generator drew for one batch: the samples (in the model's range), the images of earlier stages
    (for stacked generators, by stage name), and terms its loss needs (e.g. conditioning augmentation's mu)."""

    samples: Tensor
    stages: dict[str, Tensor] = field(default_factory=dict)
    terms: dict[str, Tensor] = field(default_factory=dict)


def optimizer_default(spec: OptimizerSpec, default: dict[str, Any]) -> OptimizerSpec:
    """The variant's default optimiser unless the config names one."""
    return default if spec is None else spec


class AdversarialModule(GeneratorSampling, QuickHookNames):
    """The shared GAN loop with manual optimisation; variants implement the hooks listed in the module docstring."""

    checkpoint_monitor: tuple[Optional[str], str] = (None, "min")
    loss_names = ("train/g_loss", "train/d_loss")  # the loss each optimizer (generator, discriminator) minimises
    # Each step trains one network and leaves the other's parameters without gradients: under DDP the CLI turns
    # on find_unused_parameters for models that set this.
    find_unused_parameters = True
    grid_columns = 8  # samples per row in pictures
    stage_name = "samples"  # what ``sample_stages`` calls the generator's output

    def __init__(
        self,
        latent_dim: int = 64,
        loss: LossSpec = "non_saturating",
        n_critic: int = 1,
        gradient_penalty: Optional[float] = None,
        weight_clip: Optional[float] = None,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        diffaugment: Optional[str] = None,
        pack: int = 1,
        lr_decay: LRDecay = "none",
        compile: Compile = False,
        data_shape: Optional[tuple[int, ...]] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        name = registry.name_of(type(self))
        if n_critic < 1:
            raise ConfigError(f"model '{name}': n_critic must be >= 1, got {n_critic}")
        if gradient_penalty is not None and gradient_penalty < 0:
            raise ConfigError(f"model '{name}': gradient_penalty (lambda) must be >= 0, got {gradient_penalty}")
        if weight_clip is not None and weight_clip <= 0:
            raise ConfigError(f"model '{name}': weight_clip must be > 0, got {weight_clip}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ConfigError(f"model '{name}': ema_decay must be in (0, 1), got {ema_decay}")
        if latent_dim < 1:
            raise ConfigError(f"model '{name}': latent_dim must be >= 1, got {latent_dim}")
        if pack < 1:
            raise ConfigError(f"model '{name}': pack must be >= 1, got {pack}")
        if lr_decay not in ("none", "linear"):
            raise ConfigError(f"model '{name}': lr_decay must be 'none' or 'linear', got {lr_decay!r}")
        self.loss_fn: AdversarialLoss = build_loss(loss)
        if not isinstance(self.loss_fn, AdversarialLoss):
            raise ConfigError(f"model '{name}': loss '{split_loss_spec(loss)[0]}' is not an adversarial loss "
                              "(see `illusioncraft list loss`)")
        check_optimizer_spec(generator_optimizer)
        check_optimizer_spec(discriminator_optimizer)
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.latent_dim, self.n_critic, self.weight_clip, self.ema_decay = latent_dim, n_critic, weight_clip, ema_decay
        self.generator_optimizer, self.discriminator_optimizer = generator_optimizer, discriminator_optimizer
        self.pack, self.lr_decay = pack, lr_decay
        self.compile_backend, self.networks_compiled = compile_backend(compile, name), False
        self.channels_last = channels_last
        self.penalty_weight = self.loss_fn.gradient_penalty if gradient_penalty is None else gradient_penalty
        # Regularisers (their anchors are buffers of this module) and ADA (its p too): only when asked for, so the
        # state dict of a model without them is what it was.
        self.regularization = Regularization(regularizers) if regularizers else None
        if self.compile_backend and (self.penalty_weight or (self.regularization and self.regularization.double_backward)):
            raise ConfigError(f"model '{name}': compile is not supported with a gradient penalty (lambda "
                              f"{self.penalty_weight}) or R1/R2: their double backward cannot run through a compiled network")
        # DiffAugment (Zhao et al., 2020): the same differentiable augmentation on real and fake before D; with ``ada``
        # its operations are applied with an adaptive probability instead (Karras et al., 2020).
        self.adaptive_augment = AdaptiveAugmentation(diffaugment, **ada) if ada is not None else None
        self.discriminator_augment = (registry.build("augmentation", "diffaugment", policy=diffaugment)
                                      if diffaugment and ada is None else None)
        self.generator: Optional[nn.Module] = None
        self.discriminator: Optional[nn.Module] = None
        self.generator_ema: Optional[nn.Module] = None
        self.data_shape: Optional[tuple[int, ...]] = None
        self.discriminator_steps = self.generator_steps = 0
        self.generator_values: dict[str, Tensor] = {}  # the last generator step's loss and terms, for the logs
        self.register_buffer("fixed_noise", torch.randn(64, latent_dim, generator=torch.Generator().manual_seed(0)))
        if data_shape is not None:
            self.build(tuple(data_shape))

    # -- hooks a variant implements ------------------------------------------------------------------------------
    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        """(generator, discriminator) for samples shaped ``data_shape``; see ``judged_shape`` for the discriminator."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_networks(data_shape)")

    def condition_of(self, batch: Any) -> Condition:
        """What conditions the generator for this real batch: None for unconditional models."""
        return None

    def real_of(self, batch: Any) -> Tensor:
        """The real samples of a batch, in the data's range: a tensor, the first of a tuple (samples, labels), or
        the ``image`` of a dict (a captioned set's batch, its captions unused)."""
        if isinstance(batch, dict):
            return batch["image"]
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    def default_condition(self, n: int) -> Condition:
        """The condition of ``n`` samples drawn without one (pictures, scores): None for unconditional models."""
        return None

    def generate(self, noise: Tensor, condition: Condition, generator: Optional[nn.Module] = None) -> Generated:
        """A fake batch for ``noise`` (B, latent) and ``condition``, in the model's range."""
        network = generator or self.generator
        return Generated(network(noise) if condition is None else network(noise, condition))

    def discriminate(self, samples: Tensor, condition: Condition = None) -> Tensor:
        """The discriminator's logits for samples in the model's range: augmented (in training), then packed."""
        x = self.packed(self.augment_for_discriminator(samples))
        return self.discriminator(x) if condition is None else self.discriminator(x, condition)

    def discriminator_loss(self, real: Tensor, fake: Generated, condition: Condition, batch: Any) -> tuple[Tensor, dict]:
        """The discriminator's adversarial loss and terms to log; the loop adds the gradient penalty."""
        logits = self.discriminate(real, condition), self.discriminate(fake.samples, condition)
        self.step_logits = logits  # what regularisers and ADA read, instead of judging the batch again
        return self.loss_fn.discriminator(*logits), {}

    def generator_loss(self, real: Tensor, condition: Condition, batch: Any) -> tuple[Tensor, dict]:
        """The generator's loss for a batch the size of ``real`` (the real batch for losses and look-ahead
        variants that need it) and terms to log."""
        fake = self.generate(self.noise(real.shape[0]), condition)
        fake_logits = self.discriminate(fake.samples, condition)
        real_logits = self.discriminate(real, condition) if self.loss_fn.generator_needs_real else None
        return self.loss_fn.generator(fake_logits, real_logits), {}

    # -- building ------------------------------------------------------------------------------------------------
    def judged_shape(self, data_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The discriminator's input shape: PacGAN joins ``pack`` samples along the first data axis."""
        return (self.pack * data_shape[0], *data_shape[1:])

    def build(self, data_shape: tuple[int, ...]) -> None:
        """Build the networks (and the moving average) for data of this shape."""
        self.data_shape = tuple(data_shape)
        if self.augments_discriminator_inputs and len(self.data_shape) != 3:
            raise ConfigError(f"model '{registry.name_of(type(self))}': diffaugment and ada augment images, but the data "
                              f"are shaped {self.data_shape}")
        if self.channels_last and len(self.data_shape) != 3:
            raise ConfigError(f"model '{registry.name_of(type(self))}': channels_last is a layout of image batches, but "
                              f"the data are shaped {self.data_shape}")
        self.generator, self.discriminator = self.build_networks(self.data_shape)
        if self.ema_decay is not None:
            self.generator_ema = frozen_copy(self.generator)

    def configure_model(self) -> None:
        """``channels_last``: the networks' weights in that layout; ``compile``: the generator's and discriminator's
        forwards compiled in place, once."""
        if self.channels_last:
            to_channels_last([self.generator, self.discriminator, self.generator_ema])
        if self.compile_backend and not self.networks_compiled:
            check_compilable(self.compile_backend, self.device, registry.name_of(type(self)))
            compile_networks([self.generator, self.discriminator], self.compile_backend)
            self.networks_compiled = True

    def setup(self, stage: str) -> None:
        data = self.trainer.datamodule
        if isinstance(data, NormalizedData) and (data.mean, data.std) != (0.0, 1.0):
            rank_zero_warn(
                f"model '{registry.name_of(type(self))}': the datamodule normalises its images (mean {data.mean:.3g}, "
                f"std {data.std:.3g}), but GANs expect images in [0, 1]; set the datamodule's normalize: false",
                category=UserWarning,
            )
        if self.generator is not None:
            return
        if not isinstance(data, ShapedData) or data.data_shape is None:
            raise ConfigError(f"model '{registry.name_of(type(self))}': data_shape is not set and the datamodule "
                              "does not provide it (data_shape)")
        self.hparams.data_shape = tuple(data.data_shape)
        self.build(tuple(data.data_shape))

    # -- ranges, noise, packing, augmentation -------------------------------------------------------------------
    @property
    def is_image_model(self) -> bool:
        return len(self.data_shape) == 3

    def to_model_range(self, x: Tensor) -> Tensor:
        return x * 2 - 1 if self.is_image_model else x  # images [0, 1] -> [-1, 1]

    def to_data_range(self, x: Tensor) -> Tensor:
        return (x + 1) / 2 if self.is_image_model else x

    def noise(self, n: int) -> Tensor:
        return torch.randn(n, self.latent_dim, device=self.device)

    def packed(self, x: Tensor) -> Tensor:
        """PacGAN (Lin et al., 2018): groups of ``pack`` consecutive samples joined along the first data axis,
        (B, C, ...) -> (B // pack, pack * C, ...), so the discriminator judges sets and sees a lack of variety.
        A remainder of fewer than ``pack`` samples is left out."""
        if self.pack == 1:
            return x
        usable = x.shape[0] - x.shape[0] % self.pack
        if usable == 0:
            raise ConfigError(f"model: a batch of {x.shape[0]} samples is smaller than pack ({self.pack})")
        return x[:usable].reshape(usable // self.pack, self.pack * x.shape[1], *x.shape[2:])

    @property
    def augments_discriminator_inputs(self) -> bool:
        return self.discriminator_augment is not None or self.adaptive_augment is not None

    def augment_for_discriminator(self, x: Tensor) -> Tensor:
        """DiffAugment or ADA (when set) in training; the identity otherwise."""
        if not self.training:
            return x
        if self.adaptive_augment is not None:
            return self.adaptive_augment(x)
        return x if self.discriminator_augment is None else self.discriminator_augment(x, None)[0]

    # -- training ------------------------------------------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = self.to_model_range(self.real_of(batch))
        if self.channels_last:
            real = channels_last_batch(real)
        condition = self.condition_of(batch)
        opt_g, opt_d = self.optimizers()
        self.decay_learning_rates(opt_g, opt_d)
        with self.toggled_optimizer(opt_d):
            noise = self.noise(real.shape[0])
            with torch.no_grad():
                fake = self.generate(noise, condition)
            self.step_logits = None  # the default discriminator_loss records its (real, fake) logits here
            d_loss, d_terms = self.discriminator_loss(real, fake, condition, batch)
            if self.penalty_weight:
                d_loss = d_loss + self.penalty_weight * self.penalty(real, fake.samples, condition)
            if self.regularization is not None or self.adaptive_augment is not None:
                d_loss, d_terms = self.regularized(d_loss, d_terms, JudgedBatch(self, real, fake.samples, noise, condition,
                                                                                 self.step_logits))
            self.step_logits = None
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.step()
        if self.weight_clip is not None:
            for parameter in self.discriminator.parameters():
                parameter.data.clamp_(-self.weight_clip, self.weight_clip)
        self.discriminator_steps += 1
        if self.discriminator_steps % self.n_critic == 0:
            with self.toggled_optimizer(opt_g):
                g_loss, g_terms = self.generator_loss(real, condition, batch)
                if self.regularization is not None:
                    extra, extra_terms = self.regularization.generator(self, real, condition, self.generator_steps)
                    g_loss, g_terms = (g_loss if extra is None else g_loss + extra), {**g_terms, **extra_terms}
                opt_g.zero_grad()
                self.manual_backward(g_loss)
                opt_g.step()
            self.generator_steps += 1
            if self.generator_ema is not None:
                update_average(self.generator_ema, self.generator, self.ema_decay)
            # kept until the next logged batch: with n_critic > 1 that may be a batch without a generator step
            self.generator_values = {name: value.detach() for name, value in {"train/g_loss": g_loss, **g_terms}.items()}
        log_training_values(self, {"train/d_loss": d_loss, **d_terms, **self.generator_values})

    def on_train_epoch_start(self) -> None:
        self.generator_values = {}  # as Lightning's own step values, the logs start each epoch afresh

    def regularized(self, d_loss: Tensor, d_terms: dict, judged: JudgedBatch) -> tuple[Tensor, dict]:
        """The discriminator's loss plus the regularisers due at this step; ADA reads the step's real logits."""
        if self.regularization is not None:
            extra, extra_terms = self.regularization.discriminator(judged, self.discriminator_steps)
            d_loss, d_terms = (d_loss if extra is None else d_loss + extra), {**d_terms, **extra_terms}
        if self.adaptive_augment is not None:
            self.adaptive_augment.observe(judged.judged()[0], judged.real.shape[0])
            d_terms = {**d_terms, "train/ada_p": self.adaptive_augment.p.clone()}
        return d_loss, d_terms

    def penalty(self, real: Tensor, fake: Tensor, condition: Condition) -> Tensor:
        """The gradient penalty: on packed inputs directly (one interpolate and norm per packed input), or through
        ``discriminate`` when augmentation or a condition stands between the samples and the network."""
        if not self.augments_discriminator_inputs and condition is None:
            return gradient_penalty(self.discriminator, self.packed(real), self.packed(fake))
        return gradient_penalty(lambda x: self.discriminate(x, condition), real, fake)

    def decay_learning_rates(self, *optimizers: Any) -> None:
        """``lr_decay: linear``: both learning rates fall linearly from their set values to 0 over the run's
        batches (``trainer.estimated_stepping_batches``), so the last steps refine instead of oscillating.
        The position comes from the discriminator's step counter, which checkpoints keep."""
        if self.lr_decay == "none":
            return
        total = self.trainer.estimated_stepping_batches
        if not 0 < total < float("inf"):
            raise ConfigError("model: lr_decay 'linear' needs a finite run (set trainer.max_epochs or trainer.max_steps)")
        factor = max(0.0, 1.0 - self.discriminator_steps / total)
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [
            build_optimizer(self.generator_optimizer, self.generator.parameters()),
            build_optimizer(self.discriminator_optimizer, self.discriminator.parameters()),
        ]

    # -- evaluation ----------------------------------------------------------------------------------------------
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Nothing per batch: callbacks score the generator once per validation (mode coverage, FID, ...)."""

    def default_callbacks(self) -> list[Callback]:
        """Sample pictures from the fixed noise (run directory and W&B), and mode coverage on 2-D mixtures."""
        return [registry.build("callback", "gan_samples"), registry.build("callback", "mode_coverage")]

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The step counters go into checkpoints, so a resumed run keeps its n_critic schedule."""
        checkpoint["gan_steps"] = {"discriminator": self.discriminator_steps, "generator": self.generator_steps}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        steps = checkpoint.get("gan_steps")
        if steps:
            self.discriminator_steps, self.generator_steps = int(steps["discriminator"]), int(steps["generator"])
