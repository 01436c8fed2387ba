"""Readying the native client ahead of the first call, from code that must stay cheap to
import (the start-up scan, collection): nothing is imported until the thread runs."""

from __future__ import annotations

import threading

__all__ = ["warm_native_client"]


_WARMING: list[threading.Thread] = []


def warm_native_client() -> None:
    """Import aiohttp and read the cost map in a background thread, once per process.

    Called when a run is seen to call a model natively (at start-up or collection): the
    import (~0.15 s) then overlaps pytest's own start-up instead of waiting for the first
    call, where it competed with the rendering of the look-ahead window.
    """
    if _WARMING:
        return

    def warm() -> None:
        try:
            from .providers.native import NativeProvider

            NativeProvider().prepare("")
        except Exception:  # only an optimisation: the first call reports what is missing
            return

    thread = threading.Thread(target=warm, name="mleval-native-warm", daemon=True)
    _WARMING.append(thread)
    thread.start()
