"""``illusioncraft evaluate``: FID, KID, Inception Score, precision/recall and density/coverage of a generator
checkpoint or a folder of images, against a datamodule's real images or a statistics file, on any number of
processes (Lightning Fabric: ``--devices``, ``--strategy``, ``--num-nodes``).

``request`` parses the command line, ``plan`` builds the extractor, the sources and the reference statistics,
``scoring`` is each process's work, ``report`` the table and JSON.
"""

from __future__ import annotations

from typing import Any

from illusioncraft.evaluate.request import EvaluationRequest, parse_request

__all__ = ["EvaluationRequest", "evaluate", "parse_request"]


def evaluate(request: EvaluationRequest) -> dict[str, Any]:
    """Score as ``request`` says; returns the record (scores and provenance) that the table and JSON show."""
    from lightning.fabric import Fabric

    from illusioncraft.errors import ConfigError
    from illusioncraft.evaluate.plan import build_plan
    from illusioncraft.evaluate.report import record, table, write_json
    from illusioncraft.evaluate.scoring import run_on_rank

    plan, provenance = build_plan(request)
    try:
        fabric = Fabric(accelerator=request.accelerator, devices=request.devices, strategy=request.strategy,
                        num_nodes=request.num_nodes, precision="32-true")
    except (ValueError, RuntimeError, TypeError) as error:  # Lightning's words for an unknown strategy, device, ...
        raise ConfigError(f"evaluate: {str(error).splitlines()[0]}") from None
    values = fabric.launch(run_on_rank, plan)
    if fabric.global_rank != 0:
        return {}
    result = record(values, {**provenance, "n_real": values.get("n_real", provenance.get("n_real"))}, fabric.world_size)
    print(table(result))
    write_json(result, request.out)
    return result
