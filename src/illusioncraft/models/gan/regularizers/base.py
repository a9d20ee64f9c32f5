"""Regularisers of the adversarial loop: terms added to the discriminator's loss (and, for some, the generator's),
chosen by name in a list on any GAN: ``regularizers: [{name: r1, weight: 10, every: 16}, {name: lecam}]``.

A regulariser sees what one discriminator step judged (``JudgedBatch``): the real and generated samples, the noise
behind them, the condition, and the logits the adversarial loss used when the variant recorded them (else they are
computed through ``discriminate``, with the same augmentation and packing). ``every: k`` is lazy regularisation
(Karras et al., 2020): the term is computed on every k-th step only and weighted by k, so its average is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

from torch import Tensor, nn

from illusioncraft import registry
from illusioncraft.errors import ConfigError

RegularizerSpec = Union[str, Mapping[str, Any]]


@dataclass
class JudgedBatch:
    """One discriminator step: real and generated samples (model range), the noise and condition behind them, and
    the (real, fake) logits of the adversarial loss when recorded."""

    model: Any  # the AdversarialModule: ``discriminate``, ``generate``, ``noise``
    real: Tensor
    fake: Tensor
    noise: Tensor
    condition: Optional[Tensor]
    logits: Optional[tuple[Tensor, Tensor]] = None

    def judged(self) -> tuple[Tensor, Tensor]:
        """(real logits, fake logits): the loss's own, or computed once through ``discriminate``."""
        if self.logits is None:
            self.logits = (self.model.discriminate(self.real, self.condition),
                           self.model.discriminate(self.fake, self.condition))
        return self.logits


class Regularizer(nn.Module):
    """Base of the registered regularisers: ``discriminator_term`` and ``generator_term`` return a weighted term to
    add to that network's loss, or None where the method has none. Anchors and running values are buffers, so the
    model's state dict (and every checkpoint) keeps them."""

    double_backward = False  # a gradient penalty: its backward differentiates a gradient (no torch.compile)

    def __init__(self, every: int = 1) -> None:
        super().__init__()
        if every < 1:
            raise ConfigError(f"regularizer '{registry.name_of(type(self))}': every must be >= 1, got {every}")
        self.every = every

    def discriminator_term(self, batch: JudgedBatch) -> Optional[Tensor]:
        return None

    def generator_term(self, model: Any, real: Tensor, condition: Optional[Tensor]) -> Optional[Tensor]:
        return None


def split_spec(spec: RegularizerSpec) -> tuple[str, dict[str, Any]]:
    """(name, parameters) of ``r1`` or ``{name: r1, weight: 10}``."""
    if isinstance(spec, str):
        return spec, {}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"a regularizer is a name or a mapping with a 'name' key (e.g. {{name: r1, weight: 10}}); got {spec!r}")
    return str(spec["name"]), {key: value for key, value in spec.items() if key != "name"}


class Regularization(nn.Module):
    """The regularisers of one model, applied in order; each term is logged as ``train/d_<name>`` (discriminator
    step) or ``train/g_<name>`` (generator step)."""

    def __init__(self, specs: Sequence[RegularizerSpec]) -> None:
        super().__init__()
        built = {}
        for spec in specs:
            name, parameters = split_spec(spec)
            if name in built:
                raise ConfigError(f"regularizer '{name}' is listed twice")
            built[name] = registry.build("regularizer", name, **parameters)
        self.terms = nn.ModuleDict(built)

    @property
    def double_backward(self) -> bool:
        return any(term.double_backward for term in self.terms.values())

    def discriminator(self, batch: JudgedBatch, step: int) -> tuple[Optional[Tensor], dict[str, Tensor]]:
        """The sum of the terms due at discriminator step ``step`` (0-based), each times its ``every``."""
        return self._sum(step, "train/d_", lambda term: term.discriminator_term(batch))

    def generator(self, model: Any, real: Tensor, condition: Optional[Tensor], step: int) -> tuple[Optional[Tensor], dict]:
        return self._sum(step, "train/g_", lambda term: term.generator_term(model, real, condition))

    def _sum(self, step: int, prefix: str, compute: Any) -> tuple[Optional[Tensor], dict[str, Tensor]]:
        total, logged = None, {}
        for name, term in self.terms.items():
            if step % term.every:
                continue
            value = compute(term)
            if value is None:
                continue
            logged[prefix + name] = value.detach()
            total = term.every * value if total is None else total + term.every * value
        return total, logged
