"""From a checked request to a ``Plan``: the extractor, the generated and the real images, the reference
statistics (read from a file, from the cache, or to be computed and cached), the attribute classifier."""

from __future__ import annotations

from typing import Any, Optional

import torch

from illusioncraft import registry
from illusioncraft.contracts import AttributeData, CaptionedData, TextConditionedModel
from illusioncraft.errors import ConfigError
from illusioncraft.evaluate.request import NEEDS_REAL, NEEDS_REAL_FEATURES, EvaluationRequest
from illusioncraft.evaluate.scoring import Plan
from illusioncraft.evaluate.sources import (
    CaptionedPrompts,
    FolderImages,
    GeneratedImages,
    RealImages,
    load_datamodule,
)
from illusioncraft.metrics.statistics import cache_key, cached_statistics_path, load_statistics


def generated_source(request: EvaluationRequest, data: Any) -> tuple[Any, Any, Any]:
    """(source of generated images, the model or None, caption prompts or None)."""
    if request.images is not None:
        return FolderImages(request.images, request.image_size, request.n), None, None
    from illusioncraft.generate import load_generator

    model = load_generator(request.ckpt)
    prompts = None
    if isinstance(model, TextConditionedModel):
        if not isinstance(data, CaptionedData):
            raise ConfigError("evaluate: a text-to-image checkpoint draws from the captions of --data: give its "
                              "captioned datamodule (name or YAML)")
        prompts = CaptionedPrompts(data, request.split or "val", model)
    return GeneratedImages(model, request.n, request.seed, prompts, request.truncation), model, prompts


def attribute_classifier(data: Any, data_name: str) -> Optional[Any]:
    """The attribute classifier of procedural captioned data (trained once and cached), else None."""
    if not isinstance(data, AttributeData) or not data.attribute_names or data.grammar is None:
        return None
    from illusioncraft.metrics.attributes import load_attribute_classifier

    with torch.random.fork_rng(devices=[]):
        return load_attribute_classifier(data_name, data.image_size, data.seed, getattr(data, "n_images", None)).eval()


def build_plan(request: EvaluationRequest) -> tuple[Plan, dict[str, Any]]:
    """The plan, and what the report records about where the numbers come from."""
    with torch.random.fork_rng(devices=[]):  # building an extractor may train one
        extractor = registry.build("feature_extractor", request.extractor, **request.extractor_args)
    if "is" in request.metrics and extractor.num_classes is None:
        raise ConfigError(f"evaluate: the Inception Score needs class probabilities; extractor '{extractor.name}' "
                          "has no classifier head (use inception or digits_classifier)")
    data, data_name, data_args = (None, None, {})
    if request.data:
        data, data_name, data_args = load_datamodule(request.data, request.data_args)
    fake, model, prompts = generated_source(request, data)
    if "is" in request.metrics and fake.count < 10:
        raise ConfigError(f"evaluate: the Inception Score is taken over 10 splits and needs at least 10 generated "
                          f"images, got {fake.count}")
    split = request.split or ("val" if prompts is not None else "train")
    plan = Plan(metrics=request.metrics, extractor=extractor, fake=fake, n_fake=fake.count,
                batch_size=request.batch_size, prompts=prompts, progress=request.progress,
                kid={"subsets": request.kid_subsets, "subset_size": request.kid_subset_size, "seed": request.seed})
    provenance: dict[str, Any] = {
        "source": str(request.ckpt or request.images), "extractor": extractor.name,
        "extractor_args": {k: str(v) for k, v in request.extractor_args.items()},
        "extractor_weights_sha256": extractor.weights_hash, "resize": extractor.resize,
        "extractor_input_size": extractor.input_size, "n_fake": fake.count, "seed": request.seed,
    }
    if request.truncation is not None:
        provenance["truncation"] = request.truncation
    if prompts is not None:
        plan.attribute_classifier = attribute_classifier(data, data_name)
        provenance["captions"] = f"{data_name} {split} split"
    if NEEDS_REAL & set(request.metrics) or request.save_stats:
        provenance.update(reference(request, plan, data, data_name, data_args, split))
    return plan, provenance


def reference(request: EvaluationRequest, plan: Plan, data: Any, data_name: Optional[str], data_args: dict[str, Any],
              split: str) -> dict[str, Any]:
    """Fill the plan's real side: statistics from --stats or the cache, else real images to compute (and cache)."""
    d, needs_features = plan.extractor.num_features, bool(NEEDS_REAL_FEATURES & set(request.metrics))
    if request.stats is not None:
        mu, sigma, features = load_statistics(request.stats)
        if mu.shape[0] != d:
            raise ConfigError(f"evaluate: statistics file '{request.stats}' has {mu.shape[0]}-d features, "
                              f"extractor '{plan.extractor.name}' gives {d}-d")
        if needs_features and features is None:
            raise ConfigError(f"evaluate: kid and prdc need real features; '{request.stats}' holds only mu and sigma "
                              "(use --data, or a file written by --save-stats)")
        plan.reference, plan.reference_features = (mu, sigma), features
        return {"reference": str(request.stats), "n_real": None if features is None else int(features.shape[0])}
    real = RealImages(data, split, request.n_real)
    key = cache_key(data_name, {k: str(v) for k, v in data_args.items()}, split, plan.extractor.name,
                    plan.extractor.weights_hash, plan.extractor.resize, real.count)
    path = cached_statistics_path(key)
    described = {"reference": f"{data_name} {split} split", "n_real": real.count}
    if request.cache and path.is_file() and not request.save_stats:
        mu, sigma, features = load_statistics(path)
        if features is not None or not needs_features:
            plan.reference, plan.reference_features = (mu, sigma), features
            return {**described, "reference_statistics": f"cached: {path}"}
    plan.real = real
    plan.save_to = ([(path, key)] if request.cache else []) + ([(request.save_stats, None)] if request.save_stats else [])
    return described
