"""The time budget of one read: cooperative checks between stages, plus SIGALRM where a
signal can be used."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from clac_core.io.errors import ReadTimeoutError


class _BudgetExceeded(BaseException):  # noqa: N818 - internal signal, never escapes
    """Raised inside a read when the time budget is spent.

    A ``BaseException`` so that library code that catches ``Exception`` (pymatgen's CIF
    parser turns per-block exceptions into warnings) cannot swallow it.
    """


class _Budget:
    """A per-read deadline: cooperative checks, plus SIGALRM where that is possible."""

    def __init__(self, seconds: float | None, name: str) -> None:
        self.seconds = seconds
        self.name = name
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _BudgetExceeded

    def error(self) -> ReadTimeoutError:
        return ReadTimeoutError(
            f"Reading '{self.name}' took longer than {self.seconds:g} s (time_budget) and was "
            "stopped. The file is probably very large or very symmetric; upload a smaller "
            "cell (primitive or conventional), one structure per file.",
            filename=self.name,
        )

    @contextlib.contextmanager
    def alarm(self) -> Iterator[None]:
        """Interrupt a long stage with SIGALRM, only in the main thread and if no timer runs.

        Signals can only be handled in the main thread (Streamlit runs pages elsewhere: there
        the cooperative checks between stages apply); an already armed ITIMER_REAL belongs to
        someone else (e.g. a test timeout) and is left alone.
        """
        usable = (
            self.seconds is not None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        )
        if not usable:
            yield
            return

        def _on_alarm(signum: int, frame: Any) -> None:
            raise _BudgetExceeded

        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(float(self.seconds or 0), 1e-3))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
