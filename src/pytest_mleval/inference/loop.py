"""The process-wide inference loop: one asyncio loop in a daemon thread, shared by every
engine and the litellm worker's pipes.

litellm keeps its HTTP clients per event loop, so a single long-lived loop lets every engine
reuse them and never hands a client a loop that has been closed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["is_shared_loop", "on_loop_shutdown", "run_sync", "shared_loop"]

T = TypeVar("T")

_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()
# Closers of HTTP sessions living on the shared loop, as weak methods: a provider that is gone
# needs no closing.
_CLOSERS: list[weakref.WeakMethod[Callable[[], Awaitable[None]]]] = []


def is_shared_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` is the shared inference loop (never starts one)."""
    return loop is _LOOP


def on_loop_shutdown(closer: Callable[[], Awaitable[None]]) -> None:
    """Have ``closer`` (a bound async method) awaited on the shared loop before it stops.

    The native client closes its pooled connections there, so nothing warns of an unclosed
    session at exit.
    """
    with _LOOP_LOCK:
        _CLOSERS.append(weakref.WeakMethod(closer))


def shared_loop() -> asyncio.AbstractEventLoop:
    """The process-wide inference loop, started on first use in a daemon thread."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None or _LOOP.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="mleval-inference", daemon=True)
            thread.start()
            _LOOP = loop
            atexit.register(_shutdown_loop, loop, thread)
        return _LOOP


def _shutdown_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    async def finish() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ref in list(_CLOSERS):
            closer_method = ref()
            if closer_method is not None:
                with contextlib.suppress(Exception):  # best effort at interpreter exit
                    await closer_method()
        litellm = sys.modules.get("litellm")
        closer = getattr(litellm, "close_litellm_async_clients", None)
        if closer is not None:
            with contextlib.suppress(Exception):  # best effort at interpreter exit
                await closer()

    if loop.is_closed() or not loop.is_running():
        return
    with contextlib.suppress(Exception):  # best effort at interpreter exit
        asyncio.run_coroutine_threadsafe(finish(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run a coroutine on the shared inference loop from synchronous code."""
    return asyncio.run_coroutine_threadsafe(coro, shared_loop()).result(timeout)
