"""The system under test: the support bot of ``fixtures/support_app.py``, behind the
``support_bot`` fixture the suite's ``fixture:support_bot`` target names.

Swap the fixture's body for a call into your own application (an HTTP client, your chain's
``invoke``): it takes the rendered case (``case.input``, ``case.system``, ``case.context``) and
returns the answer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fixtures.support_app import chat


@pytest.fixture
def support_bot() -> Callable[[Any], dict[str, Any]]:
    """The bot: answers from its FAQ and the case's documents, with the case's system prompt."""
    return chat
