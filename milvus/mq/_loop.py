"""An asyncio event loop in a background thread, for driving asyncio-only clients from threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _stop_at_exit(ref: weakref.ref[LoopThread]) -> None:
    loop_thread = ref()
    if loop_thread is not None:
        loop_thread.stop()


class LoopThread:
    """Owns one event loop running in a (non-daemon) thread until ``stop``.

    A non-daemon thread is never killed half-way through a write at interpreter exit; so that a
    forgotten ``stop`` does not hang the exit, the loop is also stopped by threading's exit
    hooks, which run before non-daemon threads are joined (as ``concurrent.futures`` does).
    """

    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name)
        self._thread.start()
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            try:
                register(_stop_at_exit, weakref.ref(self))
            except RuntimeError:  # the interpreter is already shutting down
                pass

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            if tasks:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("blocking call from the event loop's own thread")
        if not self._thread.is_alive():
            coro.close()
            raise RuntimeError("the event loop is stopped")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (cancelling it on timeout)."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                self.loop.call_soon_threadsafe(self.loop.stop)
            except RuntimeError:  # loop already closed
                pass
            if threading.current_thread() is not self._thread:
                self._thread.join()
