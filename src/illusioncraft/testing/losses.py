"""``check_loss``: what the GAN loop and the classifiers rely on in a registered loss."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor

from illusioncraft import registry
from illusioncraft.contracts import MultiViewLoss
from illusioncraft.losses.adversarial import AdversarialLoss
from illusioncraft.testing.runs import (
    CommandFailed,
    Report,
    as_option,
    check_arguments,
    check_finite,
    check_registration,
    read_metrics,
    run_command,
    workspace,
)

BATCH, CLASSES = 8, 4


def check_loss(
    name: str,
    arguments: Optional[Mapping[str, Any]] = None,
    bad_arguments: Iterable[Mapping[str, Any]] = (),
    work_dir: Optional[Path] = None,
) -> Report:
    """Check the loss registered as ``name`` (built with ``arguments``). An adversarial loss: scalar objectives that
    push the right way, ``generator_needs_real`` set exactly when the generator's loss reads the real logits, and a
    GAN fit with ``loss: {name, ...}`` from the command line. A classification loss: a scalar that is lower for right
    predictions, and a classifier fit with it. Raises ``ConformanceError`` naming the first behaviour that fails."""
    report = Report("loss", name)
    check_registration(report)
    arguments = dict(arguments or {})
    check_arguments(report, arguments, bad_arguments)
    loss = registry.build("loss", name, **arguments)
    if isinstance(loss, AdversarialLoss):
        _check_adversarial(report, loss)
        model = {"class_path": "gan", "init_args": {"hidden_size": 16, "loss": {"name": name, **arguments}}}
        data = {"class_path": "ring8", "init_args": {"n_samples": 400, "batch_size": 100}}
    else:
        model = _check_classification(report, loss, {"name": name, **arguments})
        data = {"class_path": "digits", "init_args": {"batch_size": 32, **({"classes": [3, 8]} if model["init_args"].get(
            "output") == "sigmoid" else {})}}
        if getattr(loss, "accepts_views", False):
            data["init_args"]["batch_augmentations"] = [{"name": "augmix", "params": {"jsd": True}}]
    with workspace(work_dir) as directory:
        try:
            run_dir = run_command(directory, "fit", "--model", as_option(model), "--data", as_option(data))
        except CommandFailed as error:
            report.fail("fit", f"`illusioncraft fit` of '{model['class_path']}' with this loss stopped: {error}")
        registered = registry.get("model", model["class_path"])
        check_finite(report, "fit", read_metrics(run_dir), registered.loss_names)
    report.passed.append("fit")
    return report


def _scalar(report: Report, check: str, value: Any) -> Tensor:
    if not isinstance(value, Tensor) or value.ndim != 0 or not torch.isfinite(value):
        report.fail(check, f"expected a finite scalar tensor (the batch mean), got {value!r}")
    return value


def _check_adversarial(report: Report, loss: AdversarialLoss) -> None:
    real = torch.full((BATCH,), 0.25, requires_grad=True)  # the discriminator's logits (B,), nearly undecided
    fake = torch.full((BATCH,), 0.25, requires_grad=True)
    d_real, d_fake = torch.autograd.grad(_scalar(report, "discriminator", loss.discriminator(real, fake)), (real, fake),
                                         allow_unused=True)
    if d_real is None or d_fake is None or not (d_real.sum() < 0 < d_fake.sum()):
        report.fail("discriminator", "discriminator(real_logits, fake_logits) must fall as real logits rise and fake "
                    "logits fall")
    report.passed.append("discriminator")
    with_real = _scalar(report, "generator", loss.generator(fake, real))
    (g_fake,) = torch.autograd.grad(with_real, fake, retain_graph=True, allow_unused=True)
    if g_fake is None or not g_fake.sum() < 0:
        report.fail("generator", "generator(fake_logits, real_logits) must fall as the fake logits rise")
    real_moved = torch.full((BATCH,), 2.0)
    reads_real = not torch.isclose(loss.generator(fake, real_moved), with_real)
    if loss.generator_needs_real and not reads_real:
        report.fail("generator", "generator_needs_real is True but the loss ignores real_logits (an extra discriminator "
                    "pass per step for nothing): set it to False")
    if not loss.generator_needs_real:
        if reads_real:
            report.fail("generator", "the generator's loss reads real_logits, but generator_needs_real is False, so the "
                        "loop passes None: set generator_needs_real = True")
        try:
            _scalar(report, "generator", loss.generator(fake.detach(), None))
        except Exception as error:  # the failure being reported
            report.fail("generator", f"generator(fake_logits, None) raised {type(error).__name__}: {error}")
    report.passed.append("generator")


def _check_classification(report: Report, loss: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The loss's checks for the targets it takes; returns the classifier to fit with it."""
    target = torch.arange(BATCH) % CLASSES  # (B,)
    right = torch.nn.functional.one_hot(target, CLASSES).float() * 6 - 3  # (B, K), large logit on the target
    if isinstance(loss, MultiViewLoss) and loss.accepts_views:
        views = right.repeat(3, 1)  # (3B, K): the clean view and two augmented ones
        value = _scalar(report, "values", loss(views, target))
        wrong = _scalar(report, "values", loss(views.roll(1, dims=1), target))
        model = {"class_path": "mlp", "init_args": {"hidden_sizes": [16], "loss": spec}}
    else:
        try:
            value, wrong = _scalar(report, "values", loss(right, target)), _scalar(report, "values", loss(-right, target))
            model = {"class_path": "mlp", "init_args": {"hidden_sizes": [16], "loss": spec}}
        except Exception:  # not categorical: one logit per sample and 0/1 targets
            binary, labels = torch.linspace(-3, 3, BATCH), (torch.arange(BATCH) >= BATCH // 2).float()
            value, wrong = _scalar(report, "values", loss(binary, labels)), _scalar(report, "values", loss(-binary, labels))
            model = {"class_path": "logistic_regression", "init_args": {"output": "sigmoid", "loss": spec}}
    if not value < wrong:
        report.fail("values", f"the loss of right predictions ({float(value):.4g}) is not below that of wrong ones "
                    f"({float(wrong):.4g})")
    report.passed.append("values")
    return model
