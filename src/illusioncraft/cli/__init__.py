"""The ``illusioncraft`` command: LightningCLI (fit/validate/test/predict) plus ``list``, ``sweep``, ``plot``,
``augment``, ``generate``, ``evaluate`` and ``new-plugin``.

Models and datamodules are chosen by their registry names (``model: {class_path: cnn, init_args: ...}``,
or ``--model cnn`` on the command line); full import paths work too. Every outcome a user causes ends in one
line: ``illusioncraft: error: ...`` with exit status 2, or the graceful-stop report of a signal.
"""

from __future__ import annotations

import sys
import warnings
from typing import Optional

from illusioncraft import registry
from illusioncraft.cli.errors import explain_parse_error, lightning_refusal, say, user_error_in, worker_user_error


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``illusioncraft`` console script (returns None so the exit status is 0 on success)."""
    from jsonargparse import ArgumentError
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from illusioncraft.callbacks.fault import StopReport, take_stop_report
    from illusioncraft.cli.commands import COMMANDS, summaries
    from illusioncraft.wandb_run import close_failed_run

    args = sys.argv[1:] if argv is None else argv
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    try:
        if args and args[0] in COMMANDS:
            COMMANDS[args[0]](args[1:])
            return
        registry.load_plugins()
        from illusioncraft.cli.app import IllusionCraftCLI
        from illusioncraft.cli.class_paths import install_registry_class_names

        install_registry_class_names()
        IllusionCraftCLI(args=None if argv is None else argv, other_commands=summaries(COMMANDS))
    except ArgumentError as error:
        close_failed_run()
        user_error = user_error_in(error)
        say(f"illusioncraft: error: {user_error if user_error else explain_parse_error(error)}")
        raise SystemExit(2) from None
    except SIGTERMException:
        close_failed_run()
        report = take_stop_report() or StopReport("SIGTERM", -1, None)
        say(f"illusioncraft: {report.line()}")
        raise SystemExit(report.exit_code) from None
    except Exception as error:
        close_failed_run()
        user_error = user_error_in(error)
        message = str(user_error) if user_error else (lightning_refusal(error) or worker_user_error(error))
        if message is None:
            raise
        say(f"illusioncraft: error: {message}")
        raise SystemExit(2) from None
