"""The signals that end avgen (Ctrl-C's SIGINT, SIGTERM from `timeout` or a CI cancel, SIGHUP when the
terminal goes) as one exception, so that what avgen started can be ended or let finish before it exits."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

# SIGINT already raises KeyboardInterrupt (Python's default handler); these end the process without it.
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C raises KeyboardInterrupt; `signum` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def signal_number(exc: KeyboardInterrupt) -> int:
    """The signal behind an interrupt: a plain KeyboardInterrupt is Ctrl-C's SIGINT."""
    return getattr(exc, "signum", signal.SIGINT)


def signal_name(exc: KeyboardInterrupt) -> str:
    return signal.Signals(signal_number(exc)).name


def exit_status(signum: int) -> int:
    """What a command ended by signal `signum` exits with, as a shell reports it: 130 for Ctrl-C, 143 SIGTERM."""
    return 128 + signum


@contextlib.contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise `Interrupted` (a KeyboardInterrupt) in the main thread, as Ctrl-C
    does, instead of ending the process at once. Elsewhere than in the main thread signals cannot be set:
    nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum, frame):
        raise Interrupted(signum)

    previous = {number: signal.signal(number, interrupted) for number in ENDING_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
