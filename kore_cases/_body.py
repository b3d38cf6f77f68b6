"""Where a response body is kept: ``bytes``, or when it is large an anonymous memory map.

A page of 1,000 cases is about 3 MB of JSON. As ``bytes`` it comes from the C heap, and
once glibc has freed one block that size it serves the next ones from the heap too (its
mmap threshold rises to meet them): pages freed while the rows and objects of a table
are allocated above them stay resident as holes the process cannot give back. Pulling
200,000 cases into a table left 12 to 19 MB of free heap (``mallinfo2``), 4 to 5 MB
with the bodies mapped. A body in its own anonymous map goes back to the system as soon
as nothing refers to it (the ``msgspec.Raw`` values of its cases point into it without
copying, and keep it while they live).

A map is bytes-like where the client reads bodies: ``msgspec`` decodes it, ``re``
matches it, slicing gives ``bytes``; ``bytes(body)`` copies it whole.
"""

from __future__ import annotations

import mmap
from collections.abc import AsyncIterable

from ._http import BodyTooLarge, ResponseBody, TransportError

__all__ = ["MAPPED_MIN_BYTES", "joined", "read_into_map"]

MAPPED_MIN_BYTES = 1 << 20
"""Bodies from this size on are kept in a memory map (below it the heap reuses them well)."""


async def read_into_map(chunks: AsyncIterable[bytes], length: int) -> mmap.mmap:
    """The ``length`` bytes a response announced, read from ``chunks`` into a new map.

    Raises:
        BodyTooLarge: no map of ``length`` bytes can be made (within a
            ``max_response_bytes`` raised beyond what the system holds).
    """
    try:
        body = mmap.mmap(-1, length)
    except (OSError, OverflowError) as exc:
        raise BodyTooLarge(
            f"the response announces {length} bytes, more memory than the system gives "
            f"({exc}); refused without reading it"
        ) from None
    async for chunk in chunks:
        if body.tell() + len(chunk) > length:
            raise TransportError(f"the body is longer than the {length} bytes it announced")
        body.write(chunk)
    if body.tell() != length:
        raise TransportError(f"the body was cut short: {body.tell()} of {length} bytes")
    return body


def joined(chunks: list[bytes], size: int) -> ResponseBody:
    """``chunks`` as one body: ``bytes`` when small, else a map of the ``size`` bytes."""
    if size < MAPPED_MIN_BYTES:
        return b"".join(chunks)
    body = mmap.mmap(-1, size)
    for chunk in chunks:
        body.write(chunk)
    chunks.clear()
    return body
