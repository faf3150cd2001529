"""Writing a file so that a crash leaves the old content or the new, never a mix."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["replace_atomically"]


def replace_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` beside ``path``, fsync them, then rename over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.writelines(chunks)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
