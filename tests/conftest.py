"""Shared pytest fixtures.

Real DFT data lives in ``../shared/data`` beside the repository (never copied into it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CLAC_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder with mp_37k/, perov_5/, carbon_24/ (see ../shared/data/README.md)."""
    if not (SHARED_DATA / "perov_5" / "test.csv").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
