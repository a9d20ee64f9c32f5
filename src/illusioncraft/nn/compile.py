"""``torch.compile`` for a model's networks, chosen from YAML: ``compile: true`` (inductor) or a backend's name.

Networks are compiled in place (``nn.Module.compile``), so their state dicts and checkpoints are the same as
uncompiled ones. What cannot work is refused with one line before training starts: an unknown backend, a Python
or platform without TorchDynamo, inductor without a C++ compiler on a CPU or without Triton on a GPU.
"""

from __future__ import annotations

import difflib
import importlib.util
import shutil
from collections.abc import Iterable
from typing import Optional, Union

import torch
from torch import nn

from illusioncraft.errors import ConfigError

Compile = Union[bool, str]


def compile_backend(compile: Compile, model: str) -> Optional[str]:
    """The backend to compile with (None: no compilation); one line for a backend torch does not know."""
    if compile is False or compile is None:
        return None
    backend = "inductor" if compile is True else str(compile)
    if backend not in torch._dynamo.list_backends(exclude_tags=()):
        usual = torch._dynamo.list_backends()  # without the debugging and experimental ones
        close = difflib.get_close_matches(backend, usual, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"usual ones: {', '.join(usual)}"
        raise ConfigError(f"model '{model}': compile backend '{backend}' is unknown; {hint}")
    return backend


def check_compilable(backend: str, device: torch.device, model: str) -> None:
    """Refuse, with one line, a compilation that would fail at the first step on this platform and device."""
    if not torch._dynamo.is_dynamo_supported():
        raise ConfigError(f"model '{model}': torch.compile is not supported with this Python/platform; set compile: false")
    if backend != "inductor":
        return
    if device.type == "cpu" and not any(shutil.which(name) for name in ("g++", "c++", "clang++")):
        raise ConfigError(f"model '{model}': compile with inductor on a CPU needs a C++ compiler (g++); install one, "
                          "or use compile: aot_eager")
    if device.type == "cuda" and importlib.util.find_spec("triton") is None:
        raise ConfigError(f"model '{model}': compile with inductor on a GPU needs Triton (pip install triton)")


def compile_networks(networks: Iterable[Optional[nn.Module]], backend: str) -> None:
    """Compile each network's forward in place (parameters and state-dict keys unchanged)."""
    for network in networks:
        if network is not None:
            network.compile(backend=backend)
