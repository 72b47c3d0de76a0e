"""Console logging for the ``clac`` commands, and their report of skipped inputs.

The library only logs (``logging.getLogger(__name__)``, under the ``clac_core`` logger); a
command turns the messages on for the time it runs with :func:`console_logging`, so importing
the package or calling it from Python never configures logging behind the caller's back.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


@contextmanager
def console_logging(level: int = logging.INFO, fmt: str = "%(message)s") -> Iterator[None]:
    """Show ``clac_core`` log records of at least ``level`` on stderr while the block runs.

    The handler writes to the ``sys.stderr`` of the moment the block starts (pytest's capture
    included) and is removed afterwards.
    """
    root = logging.getLogger("clac_core")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    handler.setLevel(level)
    previous = root.level
    root.addHandler(handler)
    root.setLevel(min(level, previous) if previous else level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.flush()


SHOW_REASONS = 5  # bad rows/files listed on stderr; the rest are counted


def report_skipped(prog: str, skipped: Sequence[str], kind: str) -> None:
    """One summary line plus the first reasons, on stderr (``clac embed``, ``clac index build``)."""
    if not skipped:
        return
    print(f"{prog}: skipped {len(skipped)} bad {kind}; the first:", file=sys.stderr)
    for reason in skipped[:SHOW_REASONS]:
        print(f"  - {' '.join(str(reason).split())[:300]}", file=sys.stderr)
    if len(skipped) > SHOW_REASONS:
        print(f"  ... and {len(skipped) - SHOW_REASONS} more", file=sys.stderr)
