"""One line for every user mistake: condensing jsonargparse's nested explanations, errors wrapped by
instantiation, and errors raised inside spawned worker processes."""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterator
from typing import Optional

from illusioncraft.errors import IllusionCraftError

# Config keys that moved: an old key gets its new place in the error line.
MOVED_KEYS = {
    "n_eval_samples": "the mode_coverage callback's n_samples (--trainer.callbacks+=mode_coverage "
                      "--trainer.callbacks.n_samples=N)",
}


def first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else str(text)


def explain_parse_error(error: Exception) -> str:
    """One line out of jsonargparse's nested explanation: the key, the class and the innermost reason."""
    lines = str(error).splitlines()
    for marker in ("unknown ", "is registered twice", "has no argument"):
        for line in lines:
            if marker in line:
                return line.strip().lstrip("- ")
    top = re.match(r'Parser key "([^"]+)"', lines[0]) if lines else None
    for index, line in enumerate(lines):
        problem = re.search(r"Problem with given class_path '([^']+)':", line)
        if problem:
            indent = len(line) - len(line.lstrip())
            detail = []
            for following in lines[index + 1 :]:
                if len(following) - len(following.lstrip()) <= indent:
                    break
                detail.append(following.strip())
            where = top.group(1) if top else "config"
            line = f"{where} ({problem.group(1).rsplit('.', 1)[-1]}): " + " ".join(detail).replace("Parser key ", "key ")
            return with_argument_suggestion(with_moved_key_hint(line), problem.group(1))
    return with_moved_key_hint(first_line(str(error)))


def with_moved_key_hint(line: str) -> str:
    """``line`` plus where a refused key went, when it names one that moved."""
    found = re.search(r"Option '([^']+)' is not accepted|Key '([^']+)' is not expected", line)
    key = (found.group(1) or found.group(2)).rsplit(".", 1)[-1] if found else None
    if key in MOVED_KEYS:
        return f"{line}; '{key}' moved to {MOVED_KEYS[key]}"
    return line


def with_argument_suggestion(line: str, class_path: str) -> str:
    """``line`` plus the closest argument of ``class_path`` when it refuses an argument the class does not take."""
    found = re.search(r"Option '([^']+)' is not accepted|Key '([^']+)' is not expected", line)
    if not found or "moved to" in line:
        return line
    key = (found.group(1) or found.group(2)).rsplit(".", 1)[-1]
    module_name, _, name = class_path.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), name)
        arguments = [p for p in inspect.signature(target).parameters if p not in ("self", "args", "kwargs")]
    except (ImportError, AttributeError, TypeError, ValueError):
        return line
    close = difflib.get_close_matches(key, arguments, n=1)
    return f"{line}; did you mean '{close[0]}'?" if close else line


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions behind it (its cause or context, in turn), each once."""
    seen: set[int] = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        yield current
        seen.add(id(current))
        current = current.__cause__ or current.__context__


def user_error_in(error: BaseException) -> Optional[IllusionCraftError]:
    """The IllusionCraftError behind ``error`` (jsonargparse wraps errors raised while instantiating), if any."""
    return next((cause for cause in causes(error) if isinstance(cause, IllusionCraftError)), None)


def lightning_refusal(error: BaseException) -> Optional[str]:
    """The first line of Lightning's refusal of a setting (a MisconfigurationException behind ``error``), if any."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    refusal = next((cause for cause in causes(error) if isinstance(cause, MisconfigurationException)), None)
    return first_line(str(refusal)) if refusal is not None else None


def worker_user_error(error: BaseException) -> Optional[str]:
    """One line for a user error raised inside a ``ddp_spawn`` worker, which reaches us as a traceback in text."""
    if type(error).__name__ != "ProcessRaisedException":
        return None
    from illusioncraft.checkpoints import state_dict_mismatch

    text = str(error)
    mismatch = state_dict_mismatch(text[text.find("Error(s) in loading state_dict"):]) if "state_dict" in text else None
    if mismatch:
        return f"--ckpt_path does not fit the model: {mismatch}"
    user_errors = {f"{kind.__module__}.{kind.__qualname__}" for kind in _subclasses(IllusionCraftError)}
    for line in reversed(text.strip().splitlines()):
        found = re.match(r"^(illusioncraft(?:\.\w+)+): (.+)$", line.strip())
        if found and found.group(1) in user_errors:
            return found.group(2)
    return None


def _subclasses(kind: type) -> set[type]:
    found = {kind}
    for sub in kind.__subclasses__():
        found |= _subclasses(sub)
    return found


def say(line: str) -> None:
    """Print a one-line outcome on stderr, from the first process only (the others of a DDP launch stay quiet)."""
    if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0":
        print(line, file=sys.stderr)
