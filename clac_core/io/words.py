"""Plain words: element symbols and numbers as written in structure files, library messages
turned into explanations, and parsers run with their warnings captured."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clac_core.io.errors import ParseError, StructureReadError
from clac_core.io.limits import _Limits
from clac_core.vocab.elements import ISOTOPE_SYMBOLS, is_element

if TYPE_CHECKING:
    from pymatgen.core import Structure


def is_element_symbol(symbol: str) -> bool:
    """True for a real element symbol as written (``"Na"``, ``"D"``); False for ``"Xx"``,
    ``"123"``, ``"*"``, ``"X"`` or ``"Uue"``."""
    return bool(re.fullmatch(r"[A-Z][a-z]?", symbol)) and (is_element(symbol) or symbol in ISOTOPE_SYMBOLS)


def _number(text: Any) -> float | None:
    """A number as written in a structure file: ``5.43``, ``5.43(2)``; None for ``?``/``.``.

    Raises:
        ValueError: not a number (message in plain words).
    """
    s = str(text).strip()
    if s in ("?", "."):
        return None
    s2 = re.sub(r"\(\d*\)?$", "", s)
    try:
        return float(s2)
    except ValueError:
        raise ValueError(f"'{s[:40]}' is not a number") from None


def _finite_number(text: Any, what: str, where: str, name: str) -> float | None:
    try:
        v = _number(text)
    except ValueError as exc:
        raise ParseError(f"Could not parse {where}: {what} {exc}.", filename=name) from None
    if v is not None and not math.isfinite(v):
        raise ParseError(
            f"Could not parse {where}: {what} is {str(text)[:40]} (NaN or infinite). Check the "
            "numbers in the file.",
            filename=name,
        )
    return v


# Library messages that are internals rather than explanations -> plain words.
_PLAIN: tuple[tuple[str, str], ...] = (
    (
        r"is not a multiple of",
        "a loop has a number of values that does not fill whole rows (a value is missing or extra)",
    ),
    (r"could not convert string to float: '?([^']*)'?", "'{0}' is not a number"),
    (r"invalid literal for int\(\) with base 10: '?([^']*)'?", "'{0}' is not a whole number"),
    (
        r"list index out of range|index \d+ is out of bounds|pop from an empty deque",
        "the file ends early or a line is incomplete",
    ),
    (
        r"thickness=.* below threshold",
        "the cell is flat (a lattice vector lies in the plane of the other two)",
    ),
    (r"Incommensurate", "incommensurate (modulated) structures are not supported"),
    (r"cannot reshape|shape mismatch|inhomogeneous", "a line has the wrong number of values"),
    (
        r"Invalid element symbol|is not a valid Element|Unknown element",
        "an element symbol is not a real element",
    ),
)
_INTERNALS = re.compile(r"\w\(|\w=|\[|\]|NoneType|object|Error|__|\bint\b|\bfloat\b|\bstr\b|\btuple\b")


def _plain(exc: BaseException) -> str:
    """What went wrong, in words a user understands; library internals are not shown."""
    msg = " ".join(str(exc).split()).rstrip(".")
    for pattern, words in _PLAIN:
        m = re.search(pattern, msg)
        if m:
            return words.format(*(g[:40] for g in m.groups()))
    if isinstance(exc, KeyError):
        return f"the field {msg} is missing"
    if not msg or _INTERNALS.search(msg) or len(msg) > 160:
        return "the content does not follow the format"
    return msg


def _parse_with_warnings(
    parser: Callable[[str, str, _Limits], list[Structure]], text: str, name: str, limits: _Limits
) -> list[Structure]:
    """Run a parser with pymatgen/ASE warnings silenced; wrap unexpected exceptions.

    The recorded warnings are appended to the error message when parsing fails, because
    pymatgen often explains the real cause (e.g. an occupancy above 1) only as a warning.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return parser(text, name, limits)
        except StructureReadError:
            raise
        except (MemoryError, RecursionError) as exc:
            raise ParseError(
                f"'{name}' is too large or too deeply nested to read. Upload a smaller file.",
                filename=name,
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any library error becomes a ParseError
            hints = _warning_text(caught)
            raise ParseError(
                f"Could not parse '{name}': {_plain(exc)}.{hints} Check that the file is a "
                "valid, complete structure file in the format its extension says.",
                filename=name,
            ) from exc


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    msgs = []
    for w in caught:
        m = " ".join(str(w.message).split())
        if m and "deprecated" not in m.lower() and m not in msgs and not _INTERNALS.search(m):
            msgs.append(m[:160])
    return (" Parser notes: " + " | ".join(msgs[:3]) + ".") if msgs else ""
