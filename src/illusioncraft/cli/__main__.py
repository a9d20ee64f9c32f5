"""``python -m illusioncraft.cli``: the ``illusioncraft`` command (torchrun launches it this way)."""

from illusioncraft.cli import main

main()
