"""Waiting for the end of a server process: ``armsim serve`` and ``poolkeeper serve`` both run until SIGINT/SIGTERM.

Its own small module, importing nothing of the simulator, so that ``poolkeeper_local`` (``poolkeeper serve``, which
works without armsim's extra dependencies) can share it (``armsim/__init__.py`` imports the simulator lazily).
"""

from __future__ import annotations

import signal
import time


def wait_for_signal() -> None:
    """Return after SIGINT or SIGTERM.

    The handler only flips a flag: a handler calling ``threading.Event.set()`` can deadlock when the signal lands
    while the main thread holds the event's lock inside ``wait()`` (seen: a SIGTERMed server that never exited).
    """
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, _: received.append(signum))
    signal.signal(signal.SIGTERM, lambda signum, _: received.append(signum))
    while not received:
        time.sleep(0.2)
