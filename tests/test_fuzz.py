"""The fuzz suite: the generator, the watched worker, and a sample of the cases (issue 13).

The whole set runs as ``scripts/fuzz_io.py`` (table in docs/FUZZ.md); here a sample runs.
"""

from __future__ import annotations

import pytest

from clac_core import fuzz

pytestmark = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")


def test_generator_is_seeded_and_covers_every_class() -> None:
    cases = fuzz.generate(seed=0)
    assert len(cases) >= 1000
    assert {c.cls for c in cases} == set(fuzz.GENERATORS)
    again = fuzz.generate(seed=0, per_class=5)
    assert [c.data for c in again] == [c.data for c in fuzz.generate(seed=0, per_class=5)]
    assert [c.data for c in again] != [c.data for c in fuzz.generate(seed=1, per_class=5)]
    assert {c.expect for c in cases} == {"error", "valid", "either"}


def test_sample_meets_the_targets() -> None:
    cases = fuzz.generate(seed=7, per_class=2)
    # generous limits: this checks outcomes, not speed (the script reports times)
    results = fuzz.run_all(cases, time_limit=120.0, memory_mb=2048.0)
    bad = [(r.case.cls, r.case.filename, r.outcome, r.detail) for r in results if r.outcome in fuzz.BAD_OUTCOMES]
    assert bad == []
    by_class = {r.case.cls: r.outcome for r in results}
    assert by_class["valid"] == "accepted valid"
    assert by_class["isolated_atom"] == "clean error"


def test_sane_flags_nonsense() -> None:
    from pymatgen.core import Lattice, Structure

    ok = Structure(Lattice.cubic(4.0), ["Na"], [[0, 0, 0]])
    assert fuzz.sane([ok]) is None
    assert fuzz.sane([Structure(Lattice.cubic(20.0), ["Na"], [[0, 0, 0]])]) == "isolated atom"
    assert fuzz.sane([Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]])]) == "overlapping atoms"
    assert fuzz.sane([Structure(Lattice.cubic(600.0), ["Na"], [[0, 0, 0]])]).startswith("cell lengths")


def _fake_judge(case: fuzz.FuzzCase) -> tuple[str, str]:
    if case.filename == "raises":
        raise KeyError("boom")
    if case.filename == "hog":
        bytearray(8 * 1024**3)  # over the address-space limit given to the worker
    if case.filename == "sleeps":
        import time

        time.sleep(60)
    return "clean error", "fine"


@pytest.mark.parametrize(
    ("name", "outcome"), [("raises", "uncaught"), ("hog", "over memory"), ("sleeps", "timeout"), ("ok", "clean error")]
)
def test_worker_classifies_what_goes_wrong(monkeypatch, name: str, outcome: str) -> None:
    monkeypatch.setattr(fuzz.runner, "_judge", _fake_judge)  # the forked worker inherits the patch
    result = fuzz.run_case(fuzz.FuzzCase("t", name, b"", "error"), time_limit=3.0, memory_mb=512.0)
    assert result.outcome == outcome, result.detail
