"""Judging and watching: :func:`sane` and the outcome of one read, :func:`run_case` (a forked
worker under an address-space and a wall-clock limit), :func:`run_all` and the outcome table."""

from __future__ import annotations

import json
import math
import os
import random
import re
import select
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from clac_core.fuzz.cases import FuzzCase
from clac_core.fuzz.crystals import FORMATS, _serialize, _valid_structures

OUTCOMES: tuple[str, ...] = (
    "clean error",
    "accepted valid",
    "unclear message",
    "uncaught",
    "timeout",
    "over memory",
    "nonsense accepted",
)
BAD_OUTCOMES: tuple[str, ...] = ("unclear message", "uncaught", "timeout", "over memory", "nonsense accepted")

# Library internals that must not reach a user (see the issue: "len(items)=47 is not a
# multiple of n=6").
_INTERNALS = re.compile(
    r"Traceback|len\(|\w+=\d|NoneType|object has no|could not convert|invalid literal|"
    r"index out of range|KeyError|TypeError|unsupported operand|not subscriptable"
)


@dataclass
class FuzzResult:
    """What reading one case did."""

    case: FuzzCase
    outcome: str
    seconds: float
    peak_mb: float  # growth of the worker's peak resident size while reading, MB (nan if killed)
    detail: str  # error type and message, or what was accepted


def sane(structures: list[Any], *, max_sites: int = 500) -> str | None:
    """Why accepted structures are nonsense, or None when they are plausible crystals."""
    import numpy as np

    from clac_core.io import DEFAULT_NEIGHBOR_CUTOFF, MAX_CELL_LENGTH, MIN_DISTANCE

    if not structures:
        return "empty result"
    for s in structures:
        m = s.lattice.matrix
        if not (0 < len(s) <= max_sites):
            return f"{len(s)} sites"
        if not np.isfinite(m).all() or not np.isfinite(s.frac_coords).all():
            return "non-finite numbers"
        lengths = np.linalg.norm(m, axis=1)
        if not ((lengths > 0) & (lengths <= MAX_CELL_LENGTH)).all() or not s.lattice.volume > 0:
            return f"cell lengths {lengths.round(3).tolist()}"
        if not s.is_ordered:
            return "disordered"
        for sp in s.composition:
            if not 1 <= getattr(sp, "Z", 0) <= 118 or type(sp).__name__ == "DummySpecies":
                return f"unknown element {sp}"
        centers, _, _, d = s.get_neighbor_list(r=DEFAULT_NEIGHBOR_CUTOFF)
        if (d < MIN_DISTANCE).any():
            return "overlapping atoms"
        if len(set(centers.tolist())) < len(s):
            return "isolated atom"
    return None


def _judge(case: FuzzCase) -> tuple[str, str]:
    """Read a case in this process: (outcome, detail)."""
    from clac_core.io import StructureReadError, read_structures

    try:
        structures = read_structures(case.data, filename=case.filename)
    except MemoryError as exc:
        return "over memory", f"MemoryError: {exc}"
    except StructureReadError as exc:
        msg = str(exc)
        detail = f"{type(exc).__name__}: {msg}"
        # quoted text is the user's own content ('0.0=000' is not a number), not internals
        unquoted = re.sub(r"'[^']*'", "''", msg)
        if case.filename not in msg or _INTERNALS.search(unquoted) or not msg.strip():
            return "unclear message", detail
        return "clean error", detail
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        return "uncaught", f"{type(exc).__name__}: {exc}"
    why = sane(structures)
    formulas = ", ".join(s.composition.reduced_formula for s in structures[:3])
    if why is not None:
        return "nonsense accepted", f"{why} ({formulas})"
    if case.expect == "error":
        return "nonsense accepted", f"should be refused; read as {formulas}"
    return "accepted valid", formulas


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` value in kB (``VmRSS``, ``VmHWM``, ``VmSize``)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0

def run_case(case: FuzzCase, *, time_limit: float = 10.0, memory_mb: float = 1024.0) -> FuzzResult:
    """Read one case in a forked worker with an address-space limit; kill it after ``time_limit``.

    The worker may allocate ``memory_mb`` beyond the parent's current address space (the
    limit makes a bigger allocation fail with MemoryError instead of swapping the machine).
    """
    r, w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # worker
        _worker(case, r, w, memory_mb)
    os.close(w)
    chunks, killed = _collect(r, pid, t0 + time_limit)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - t0
    if killed:
        return FuzzResult(case, "timeout", seconds, float("nan"), f"killed after {time_limit:g} s")
    outcome, detail, peak_mb = _report(chunks, status)
    if peak_mb > memory_mb and outcome != "over memory":  # (nan compares False)
        outcome, detail = "over memory", f"peak {peak_mb:.0f} MB; {detail}"
    return FuzzResult(case, outcome, seconds, peak_mb, detail)


def _worker(case: FuzzCase, r: int, w: int, memory_mb: float) -> NoReturn:
    """The forked child: limit its address space, judge the case, write a JSON report to ``w``, exit."""
    try:
        import resource

        os.close(r)
        hard_as = resource.getrlimit(resource.RLIMIT_AS)[1]
        limit = _status_kb("VmSize") * 1024 + int(memory_mb * 1024 * 1024)
        if hard_as == resource.RLIM_INFINITY or limit < hard_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard_as))
        # growth is measured against the resident size the worker starts with (the
        # parent's pages, shared after fork, count as resident here too)
        _touch = bytearray(1)  # noqa: F841 - make sure the status counters are current
        start_kb = _status_kb("VmRSS")
        outcome, detail = _judge(case)
        grown = max(0, _status_kb("VmHWM") - start_kb) / 1024
        payload = json.dumps({"outcome": outcome, "detail": detail[:500], "peak_mb": grown}).encode()
    except BaseException as exc:  # noqa: BLE001 - report anything, never fall back into the parent's code
        outcome = "over memory" if isinstance(exc, MemoryError) else "uncaught"
        detail = f"{type(exc).__name__}: {exc}"[:500]
        payload = json.dumps({"outcome": outcome, "detail": detail, "peak_mb": float("nan")}).encode()
    try:
        os.write(w, payload)
    finally:
        os._exit(0)


def _collect(r: int, pid: int, deadline: float) -> tuple[list[bytes], bool]:
    """Read the worker's report from ``r`` until it closes: (chunks, whether it was killed at ``deadline``)."""
    chunks: list[bytes] = []
    killed = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([r], [], [], left)
        if ready:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    return chunks, killed


def _report(chunks: list[bytes], status: int) -> tuple[str, str, float]:
    """(outcome, detail, peak MB) from the worker's JSON; "uncaught" when it died without one."""
    peak_mb = float("nan")
    try:
        msg = json.loads(b"".join(chunks).decode())
        outcome, detail, peak_mb = msg["outcome"], msg["detail"], float(msg["peak_mb"])
    except (ValueError, KeyError):
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        outcome, detail = "uncaught", f"worker died (signal {sig}, status {status})"
    return outcome, detail, peak_mb


def warm_up() -> None:
    """Import the parsers once in the parent so that each forked worker starts warm."""
    from clac_core.io import read_structures

    valid = _valid_structures(random.Random(0))
    for fmt in FORMATS:
        name, text = _serialize(valid[0], fmt)
        read_structures(text.encode(), filename=name)
    from pymatgen.symmetry.groups import SpaceGroup  # noqa: F401 - symmetry lookups in CIF checks


def run_all(
    cases: list[FuzzCase],
    *,
    time_limit: float = 10.0,
    memory_mb: float = 1024.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[FuzzResult]:
    """Run every case in its own watched worker, one after the other."""
    warm_up()
    out = []
    for i, case in enumerate(cases):
        out.append(run_case(case, time_limit=time_limit, memory_mb=memory_mb))
        if progress is not None:
            progress(i + 1, len(cases))
    return out


def table(results: list[FuzzResult]) -> str:
    """Markdown table: one row per class, one column per outcome, plus slowest and peak memory."""
    classes = list(dict.fromkeys(r.case.cls for r in results))
    counts = {c: Counter(r.outcome for r in results if r.case.cls == c) for c in classes}
    head = ["class", "n", *OUTCOMES, "max s", "max MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for c in [*classes, "total"]:
        rs = [r for r in results if c == "total" or r.case.cls == c]
        cnt = Counter(r.outcome for r in rs) if c == "total" else counts[c]
        cells = [c, str(len(rs)), *(str(cnt.get(o, 0)) for o in OUTCOMES)]
        peaks = [r.peak_mb for r in rs if not math.isnan(r.peak_mb)]
        cells += [f"{max(r.seconds for r in rs):.2f}", f"{max(peaks):.0f}" if peaks else "n/a"]
        if c == "total":
            cells = [f"**{x}**" for x in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets_met(results: list[FuzzResult]) -> bool:
    """0 uncaught, 0 timeouts, 0 over memory, 0 nonsense accepted, 0 unclear messages."""
    return not any(r.outcome in BAD_OUTCOMES for r in results)
