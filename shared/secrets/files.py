"""Secret files that only their owner may read, created that way from the first byte."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

_OWNER_ONLY = 0o600


def private_file(path: Path, generate: Callable[[], str]) -> str:
    """The secret in ``path``, made with ``generate`` and stored there (mode 0600) if absent.

    The secret goes into a temporary file that ``mkstemp`` creates 0600, which is then linked
    to ``path``: no moment exists in which another user could open the file, and a link fails
    rather than overwrites, so when two processes race both end up with the same secret. A
    file left readable by others (as an older version could leave one) is narrowed to 0600.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(generate())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: its secret is the one
        finally:
            os.unlink(temporary)
    if stat.S_IMODE(path.stat().st_mode) & ~_OWNER_ONLY:
        path.chmod(_OWNER_ONLY)
    return path.read_text(encoding="utf-8").strip()
