"""``python -m pytest_mleval.cli``: the ``mleval`` command."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
