from __future__ import annotations

import contextlib
import os

# The same for the compiled extensions of numpy, scipy and SQLAlchemy, which the end of every
# run uses (statistics, run history).
import numpy  # noqa: F401
import scipy.optimize
import scipy.stats  # noqa: F401
import sqlalchemy  # noqa: F401

# Imported before any in-process pytester run: libyaml's C extension cannot be re-imported,
# so a yaml package first imported (and then unloaded) inside such a run breaks later ones.
import yaml  # noqa: F401

# Offline by design, also for libraries imported by tests.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# No warm litellm server outliving the tests (tests that check it turn it on themselves).
os.environ["MLEVAL_LITELLM_SERVER"] = "off"

# litellm imports the importlib_metadata backport, which deletes the stdlib PathFinder's
# find_distributions and appends its own finder to sys.meta_path. Inside an in-process
# pytester run the finder would be rolled back with sys.meta_path but the deletion would
# stay, hiding every entry point (our plugin included) from later runs: import it first.
with contextlib.suppress(ImportError):
    import importlib_metadata  # noqa: F401

# The metric registry lives in pytest_mleval.metrics.registry and the built-ins register into it when
# builtin_metrics is first imported; loading both here keeps one registry for every run.
import pytest_mleval.metrics.registry  # noqa: F401
