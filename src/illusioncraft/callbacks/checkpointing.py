"""The checkpoint callback every run gets: Lightning's ModelCheckpoint with its state key computed once."""

from __future__ import annotations

from typing import Any, Optional

from lightning.pytorch.callbacks import ModelCheckpoint


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint``. Lightning formats a callback's ``state_key`` for every hook it calls, on every
    step, and ModelCheckpoint builds its key from its settings each time (about 9 us); this one keeps the key it
    built first. The key is Lightning's own (the class answers to ModelCheckpoint's name), so checkpoints move
    between the two."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept_state_key: Optional[str] = None

    @property
    def state_key(self) -> str:
        if self._kept_state_key is None:
            self._kept_state_key = super().state_key
        return self._kept_state_key


RunCheckpoint.__qualname__ = ModelCheckpoint.__qualname__  # the state key names the class: keep Lightning's
