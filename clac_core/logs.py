"""Console logging for the ``clac`` commands, their report of skipped inputs, and quiet loading.

The library only logs (``logging.getLogger(__name__)``, under the ``clac_core`` logger); a
command turns the messages on for the time it runs with :func:`console_logging`, so importing
the package or calling it from Python never configures logging behind the caller's back.
:func:`quiet_progress_bars` keeps Hugging Face's loading bars out of a server's log.
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


@contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """No transformers / huggingface_hub progress bars while the block runs (restored after).

    Why: loading the text encoder draws "Loading weights: 100%|####| 103/103" on stderr, once
    per model load; in the app's server log that line tells nobody anything (issue 19, part 5).
    Only the bars are switched off: warnings and errors of both libraries still reach the log.
    """
    from huggingface_hub import utils as hub

    # transformers is imported only where it is already loaded: the plain-PyTorch BERT path
    # never needs it (its import costs seconds); a transformers imported inside the block
    # reads hub's switch at import time, so its bars start switched off too.
    hf = sys.modules.get("transformers.utils.logging")
    hf_was = hf.is_progress_bar_enabled() if hf is not None else False
    hub_was = not hub.are_progress_bars_disabled()
    if hf is not None:
        hf.disable_progress_bar()
    hub.disable_progress_bars()
    try:
        yield
    finally:
        if hf_was and hf is not None:
            hf.enable_progress_bar()
        if hub_was:
            hub.enable_progress_bars()


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
