"""Finding the embedded servers' wheels, which only the ``embedded`` extra installs.

The production image leaves them out (it uses real servers by URL), so whatever would start an
embedded server there says in one line what is missing and the two ways on, instead of a trace.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


class EmbeddedExtraMissingError(RuntimeError):
    """An embedded server was asked for where the ``embedded`` extra is not installed."""


def package_dir(module: str, server: str, setting: str) -> Path:
    """The folder of the installed ``module`` that ships ``server``, found without importing it.

    ``setting`` is the variable that points the connector at a real server instead.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise EmbeddedExtraMissingError(
            f"the embedded {server} is not installed here: it is the `embedded` extra "
            "(`./run dev` installs it, or `pip install '.[embedded]'` in a checkout); "
            f"set {setting} to use a real one"
        )
    return Path(spec.origin).parent
