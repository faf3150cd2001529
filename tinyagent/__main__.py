"""``python -m tinyagent``: the ``tinyagent`` command (see :mod:`tinyagent.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
