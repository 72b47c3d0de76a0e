"""Bytes in, text out: read a path, bytes or a stream within ``max_bytes``, gunzip within the
same limit, and decode UTF-8 (tolerating a little Latin-1)."""

from __future__ import annotations

import gzip
import io
import os
import re
from pathlib import Path
from typing import IO

from clac_core.io.errors import DecodeError, FileTooLargeError, StructureReadError
from clac_core.io.limits import _fmt_bytes

Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes] | IO[str]


def _read_bytes(source: Source, *, filename: str | None, max_bytes: int) -> tuple[bytes, str]:
    """Return (content bytes, display name), enforcing ``max_bytes``."""
    too_large = (
        "'{name}' is {size} large; the limit is {limit} (max_bytes). "
        "Upload a smaller file, e.g. one structure per file."
    )
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = filename or path.name
        if not path.is_file():
            raise StructureReadError(f"'{path}' does not exist or is not a file.", filename=name)
        size = path.stat().st_size
        if size > max_bytes:
            raise FileTooLargeError(
                too_large.format(name=name, size=_fmt_bytes(size), limit=_fmt_bytes(max_bytes)),
                filename=name,
            )
        try:
            return path.read_bytes(), name
        except OSError as exc:
            raise StructureReadError(f"Could not read '{path}': {exc}.", filename=name) from exc

    if isinstance(source, (bytes, bytearray, memoryview)):
        if filename is None:
            raise TypeError("read_structures(bytes) needs filename= to choose the format")
        data = bytes(source)
        name = filename
    elif hasattr(source, "read"):
        name = filename or os.path.basename(str(getattr(source, "name", "") or "")) or "<upload>"
        # Read one byte past the limit so an oversized stream is detected without reading
        # all of it.
        raw = source.read(max_bytes + 1)
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    else:
        raise TypeError(
            f"source must be a path, bytes, or a file-like object with .read(); got {type(source).__name__}"
        )
    if len(data) > max_bytes:
        size = f"larger than {_fmt_bytes(max_bytes)}" if hasattr(source, "read") else None
        raise FileTooLargeError(
            too_large.format(name=name, size=size or _fmt_bytes(len(data)), limit=_fmt_bytes(max_bytes)),
            filename=name,
        )
    return data, name


def _gunzip(data: bytes, name: str, max_bytes: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            out = fh.read(max_bytes + 1)
    except (OSError, EOFError) as exc:
        raise DecodeError(
            f"'{name}' ends in .gz but is not a valid gzip file ({exc}). "
            "Upload the uncompressed file instead.",
            filename=name,
        ) from exc
    if len(out) > max_bytes:
        raise FileTooLargeError(
            f"'{name}' decompresses to more than {_fmt_bytes(max_bytes)}; the limit is "
            f"{_fmt_bytes(max_bytes)} (max_bytes). Upload a smaller file.",
            filename=name,
        )
    return out


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _decode(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM); tolerate a few Latin-1 characters in comments."""
    binary_msg = (
        f"'{name}' is not a text file (it looks like binary data: an image, archive or "
        "document?). Structure files must be plain text: export it as CIF or POSCAR."
    )
    if len(_CONTROL.findall(data[:65536])) > 0:
        raise DecodeError(binary_msg, filename=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Old CIF writers emit Latin-1 for the odd "Å" or author name; accept that when
        # nearly all bytes are ASCII, but refuse text that is mostly high bytes (garbage).
        high = sum(b >= 0x80 for b in data)
        if high <= max(2, len(data) // 100):
            return data.decode("latin-1")
        raise DecodeError(
            f"'{name}' could not be decoded as UTF-8 text (byte {exc.start}: "
            f"{data[exc.start : exc.start + 1]!r}); {high} of {len(data)} bytes are not ASCII. "
            "Save the file as UTF-8 (or plain ASCII) text and try again.",
            filename=name,
        ) from exc
