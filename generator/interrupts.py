"""The signals that end avgen (Ctrl-C's SIGINT, SIGTERM from `timeout` or a CI cancel, SIGHUP when the
terminal goes) as one exception, so that what avgen started can be ended or let finish before it exits."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator

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


# the signals that interrupt avgen: Ctrl-C's, and those that interrupts_as_exceptions raises as one
HELD_SIGNALS = (signal.SIGINT, *ENDING_SIGNALS)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Inside, the interrupting signals are noted instead of raised; on leaving, the first one noted is raised
    again with the handlers of before (off the main thread, where signals cannot be handled, nothing changes).
    For a few steps that must not be cut in two: starting a process and recording it, so that whoever ends
    what avgen started knows about it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    # what to restore, read before anything is replaced: a signal between two replacements cannot leave one
    # of them noting for ever (None: a handler not set from Python, left alone)
    previous = {number: handler for number in HELD_SIGNALS if (handler := signal.getsignal(number)) is not None}
    try:
        for number in previous:
            signal.signal(number, lambda signum, frame: noted.append(signum))
        yield
    finally:
        # blocked while they are put back: one raised half-way would leave the others noting for ever
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, previous)
        try:
            for number, handler in previous.items():
                signal.signal(number, handler)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if noted:
            signal.raise_signal(noted[0])  # its own handler again: KeyboardInterrupt, Interrupted, or ignored


def has_ended(process: subprocess.Popen) -> bool:
    """Whether a process avgen started has ended, leaving its exit status for Popen to collect (WNOWAIT).
    For the loops that watch one while an interrupt may land: Popen.poll() and wait(timeout) take a lock with
    `acquire(False)` before the `try` that releases it, and an interrupt landing in between leaves it held,
    so that the wait for the process after the interrupt never returns."""
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
