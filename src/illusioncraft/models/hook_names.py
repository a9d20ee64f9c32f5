"""A LightningModule base that lets Lightning name the running hook cheaply."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningModule


class QuickHookNames(LightningModule):
    """Lightning records the running hook in ``_current_fx_name`` before and after every hook it calls: dozens of
    times per training step. ``nn.Module.__setattr__`` looks through parameters, buffers and submodules on each
    of them; the name is a plain string, never one of those, so it is set directly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
