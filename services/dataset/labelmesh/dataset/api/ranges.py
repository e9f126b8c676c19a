"""HTTP range requests (RFC 9110, section 14) of one byte range, for resumable downloads."""

from __future__ import annotations

import re

from fastapi import HTTPException

_SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte that a Range header asks for, or None for the
    whole file (no header, or one naming several ranges, which we serve whole).
    Raises 416 when the range lies past the end."""
    if not header:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            raise _unsatisfiable(size)
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> HTTPException:
    return HTTPException(
        status_code=416,
        detail=f"the range lies outside the archive of {size} bytes",
        headers={"Content-Range": f"bytes */{size}"},
    )
