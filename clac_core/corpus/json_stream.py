"""The items of a large JSON array read one at a time from a text stream, with the standard
library only (no ``ijson``).

The array is the whole document (``[...]``) or the value of one of the given keys of the top-level
object (``{"entries": [...]}``, ``{"data": [...]}``). Text is read in blocks into a buffer and each
item is decoded by :meth:`json.JSONDecoder.raw_decode` (the C decoder ``json.load`` uses), so the
memory held is one block plus the item being decoded, not the parsed file: an Alexandria file
of 100,000 entries (hundreds of MB of JSON) never exists as Python objects all at once. Other
values of the top-level object are decoded and dropped; reading stops at the end of the array.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

from clac_core.corpus.streamed import SourceFileError

BLOCK_CHARS: int = 1 << 20
"""Characters read from the stream at a time."""

MAX_ITEM_CHARS: int = 200_000_000
"""Largest single JSON value (one entry) accepted, in characters."""

_WS = re.compile(r"[ \t\n\r]*")


class JsonLayoutError(SourceFileError):
    """Not JSON, or no array where one is expected; the message says where, in plain words."""


class _Reader:
    """A JSON text stream with a read position in a growing buffer."""

    def __init__(self, fh: IO[str], name: str) -> None:
        self.fh = fh
        self.name = name
        self.buf = ""
        self.pos = 0
        self.dropped = 0  # characters consumed and dropped from the buffer
        self.eof = False
        self.decoder = json.JSONDecoder()

    def _more(self) -> bool:
        """Read another block (dropping what was consumed); False at the end of the stream."""
        if self.eof:
            return False
        if len(self.buf) - self.pos > MAX_ITEM_CHARS:
            raise JsonLayoutError(
                f"{self.name}: one JSON value is larger than {MAX_ITEM_CHARS // 1_000_000} million characters"
            )
        # at least double an unfinished value's text, so a large value is re-decoded O(log) times
        chunk = self.fh.read(max(BLOCK_CHARS, len(self.buf) - self.pos))
        if not chunk:
            self.eof = True
            return False
        self.dropped += self.pos
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next non-blank character ("" at the end) without consuming it."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self._more():
                return self.buf[self.pos : self.pos + 1]

    def expect(self, chars: str, what: str) -> str:
        """Consume the next non-blank character, which must be one of ``chars``."""
        c = self.peek()
        if not c or c not in chars:
            found = repr(c) if c else "the end of the file"
            raise JsonLayoutError(
                f"{self.name}: expected {what} at character {self.dropped + self.pos}, found {found}"
            )
        self.pos += 1
        return c

    def value(self) -> Any:
        """Decode the next JSON value."""
        self.peek()
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if _maybe_cut(exc, len(self.buf)) and self._more():
                    continue
                raise JsonLayoutError(
                    f"{self.name} is not valid JSON: {exc.msg} at character {self.dropped + exc.pos}"
                ) from exc
            # a value at the buffer's end may be cut: a number ("12" of "125", "3" of "3.5e2")
            # needs a few characters after it to be known whole
            if _near_end(obj, end, len(self.buf)) and self._more():
                continue
            self.pos = end
            return obj


def _near_end(obj: Any, end: int, size: int) -> bool:
    """Whether a decoded value may be the front of a longer one (see :meth:`_Reader.value`)."""
    is_number = isinstance(obj, (int, float)) and not isinstance(obj, bool)
    return end == size or (is_number and size - end < 3)


def _maybe_cut(exc: json.JSONDecodeError, size: int) -> bool:
    """Whether the error may only mean that the buffer ends inside the value: it is at the
    buffer's last few characters (a cut ``true``, number or escape) or an unterminated string;
    an error earlier in the buffer is a real one, reported without reading on."""
    return exc.pos >= size - 8 or exc.msg.startswith("Unterminated string")


def iter_json_array(fh: IO[str], *, keys: tuple[str, ...], name: str) -> Iterator[Any]:
    """The items of the document's array, or of the array under the first of ``keys`` found in
    the top-level object, one at a time.

    Args:
        fh: the JSON text stream.
        keys: keys of the top-level object that may hold the array (e.g. ``("entries",)``).
        name: how messages name the stream (the file name).

    Raises:
        JsonLayoutError: not JSON; neither an array nor an object with one of ``keys`` holding
            an array.
    """
    r = _Reader(fh, name)
    first = r.peek()
    if first == "[":
        yield from _array(r)
        return
    want = " or ".join(repr(k) for k in keys)
    if first != "{":
        raise JsonLayoutError(
            f"{name}: expected a JSON list or an object with {want}, found "
            f"{repr(first) if first else 'an empty file'}"
        )
    r.expect("{", "'{'")
    if r.peek() != "}":
        while True:
            key = r.value()
            if not isinstance(key, str):
                raise JsonLayoutError(f"{name}: an object key must be a string, found {key!r}")
            r.expect(":", "':'")
            if key in keys and r.peek() == "[":
                yield from _array(r)
                return
            r.value()  # another top-level value: decoded and dropped
            if r.expect(",}", "',' or '}'") == "}":
                break
    raise JsonLayoutError(f"{name}: the JSON object has no {want} list")


def _array(r: _Reader) -> Iterator[Any]:
    r.expect("[", "'['")
    if r.peek() == "]":
        r.pos += 1
        return
    while True:
        yield r.value()
        if r.expect(",]", "',' or ']'") == "]":
            return
