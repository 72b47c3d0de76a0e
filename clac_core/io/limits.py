"""The limits of a read: the module constants, :class:`ReadLimits` (for display) and the
internal ``_Limits`` the parsers check; :func:`describe_limits` says them in one sentence."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_SITES: int = 500
"""Largest number of sites accepted per structure (graph building and the viewer scale with it)."""

DEFAULT_MAX_BYTES: int = 5_000_000
"""Largest file accepted, in bytes (after gzip decompression for ``.gz`` files)."""

MIN_DISTANCE: float = 0.5
"""Å; two atoms closer than this (periodic images included) are reported as overlapping."""

DEFAULT_MAX_BLOCKS: int = 100
"""Largest number of structures per file (CIF data blocks, XYZ frames, JSON list items)."""

SYMMETRY_ALLOWANCE: int = 8
"""A CIF may declare at most this many times ``max_sites`` candidate positions (symmetry
operations × atom-site rows). Atoms on special positions merge, so the real count is often far
lower (spinel in Fd-3m: 192 × 3 candidates, 56 atoms); the allowance keeps such files while
refusing a 300-site F m -3 m file (57,600 candidates, minutes of expansion) before expanding."""

MAX_CELL_LENGTH: float = 500.0
"""Å; longest accepted lattice vector (1e6 Å cells made the neighbour search allocate GBs)."""

MIN_CELL_VOLUME: float = 1e-3
"""Å³; a smaller cell volume means (nearly) parallel or zero lattice vectors."""

MAX_NEIGHBOR_IMAGES: int = 2_000_000
"""Largest estimated number of periodic image points the neighbour search may visit
(sites × images within the cutoff); a nearly flat cell needs millions of images."""

DEFAULT_NEIGHBOR_CUTOFF: float = 8.0
"""Å; an atom with no neighbour within this distance is an error. The default graph cutoff
(:class:`clac_core.config.GraphConfig`); such an atom would be an isolated graph node."""

DEFAULT_TIME_BUDGET: float = 5.0
"""Seconds one :func:`read_structures` call may take before :class:`ReadTimeoutError`."""

OCCUPANCY_TOLERANCE: float = 1e-3
"""An occupancy (or a site's total) may exceed 1 by this much (rounding in written files)."""

PARTIAL_NOTE: str = "partial occupancy resolved to most-probable species"
"""Value written to ``structure.properties["clac_note"]`` when partial occupancy was resolved."""


@dataclass(frozen=True)
class ReadLimits:
    """The limits :func:`read_structures` applies, for display in the app."""

    max_sites: int = DEFAULT_MAX_SITES  # sites per structure
    max_bytes: int = DEFAULT_MAX_BYTES  # bytes per file (after gzip decompression)
    min_distance: float = MIN_DISTANCE  # Å, closer atom pairs are "overlapping"
    max_blocks: int = DEFAULT_MAX_BLOCKS  # structures per file
    max_cell_length: float = MAX_CELL_LENGTH  # Å, longest lattice vector
    neighbor_cutoff: float = DEFAULT_NEIGHBOR_CUTOFF  # Å, every atom needs a neighbour within it
    time_budget: float = DEFAULT_TIME_BUDGET  # seconds per file


def describe_limits(max_sites: int = DEFAULT_MAX_SITES, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """One human sentence listing the accepted formats and the limits.

    Args:
        max_sites: Site limit to describe.
        max_bytes: Byte limit to describe.

    Returns:
        Text such as ``"CIF, POSCAR/CONTCAR, extended XYZ or pymatgen JSON; up to 500 sites
        per structure and 5.0 MB per file; ..."``.
    """
    return (
        "CIF, POSCAR/CONTCAR, extended XYZ (with Lattice=) or pymatgen JSON; "
        f"up to {max_sites} sites per structure and {_fmt_bytes(max_bytes)} per file; "
        f"atoms closer than {MIN_DISTANCE} Å are rejected as overlapping, and so is an atom "
        f"with no neighbour within {DEFAULT_NEIGHBOR_CUTOFF:g} Å; "
        "partially occupied sites are resolved to their most probable species."
    )


def _fmt_bytes(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} kB"
    return f"{n} bytes"


@dataclass(frozen=True)
class _Limits:
    max_sites: int
    max_blocks: int
    neighbor_cutoff: float
