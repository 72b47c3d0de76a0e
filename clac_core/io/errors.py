"""The typed errors of :func:`clac_core.io.read_structures`: one base class, one subclass per
kind of problem, each message naming the file in plain words."""

from __future__ import annotations


class StructureReadError(ValueError):
    """Base class: the input could not be turned into a usable crystal structure.

    Attributes:
        filename: The file name the message refers to (may be ``"<bytes>"``).
    """

    def __init__(self, message: str, *, filename: str = "<input>") -> None:
        super().__init__(message)
        self.filename = filename


class EmptyFileError(StructureReadError):
    """The file has no content (or only whitespace)."""


class DecodeError(StructureReadError):
    """The bytes are not text (binary file, or an unknown encoding)."""


class ParseError(StructureReadError):
    """The text is in a known format but could not be parsed."""


class NoLatticeError(StructureReadError):
    """The input describes a molecule (no periodic lattice), not a crystal."""


class BadLatticeError(StructureReadError):
    """The lattice is degenerate (zero or near-zero cell volume)."""


class BadSitesError(StructureReadError):
    """The structure has no atoms, or atoms that overlap (closer than ``MIN_DISTANCE``)."""


class PartialOccupancyError(StructureReadError):
    """Partially occupied sites were found and ``on_partial="reject"`` was requested."""


class TooManySitesError(StructureReadError):
    """A structure has more sites than ``max_sites``."""


class FileTooLargeError(StructureReadError):
    """The file is larger than ``max_bytes``."""


class UnsupportedFormatError(StructureReadError):
    """The format could not be recognised from the name or the content."""


class UnknownElementError(ParseError):
    """A site names something that is not a chemical element (``Xx``, ``123``, ``*``, ``Uue``)."""


class BadOccupancyError(ParseError):
    """An occupancy is not a number in (0, 1], or a site's occupancies add up to more than 1."""


class IsolatedAtomError(BadSitesError):
    """An atom has no neighbour within the neighbour cutoff (it would be an isolated graph node)."""


class TooManyBlocksError(StructureReadError):
    """A file holds more structures (data blocks, frames, list items) than ``max_blocks``."""


class ReadTimeoutError(StructureReadError):
    """Reading one file took longer than its time budget."""
