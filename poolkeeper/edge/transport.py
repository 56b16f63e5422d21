"""Reading a request body off an HTTP/1.1 connection: ``Content-Length`` or ``Transfer-Encoding: chunked``.

The local host's part of the edge. In Azure the Functions host does this; here it must be as strict, because a body
read wrongly is worse than none (issue 9: a chunked body was read as empty and taken for "everything"). Rules from
RFC 9112 section 6 (https://www.rfc-editor.org/rfc/rfc9112#section-6): chunked is the only transfer coding accepted;
Transfer-Encoding together with Content-Length is refused (request smuggling); Content-Length must be digits.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from poolkeeper.edge.limits import BodyError, check_size

_DIGITS = re.compile(rb"^[0-9]{1,19}$")
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
MAX_LINE = 4096
MAX_TRAILERS = 64


def read_body(headers: Any, rfile: BinaryIO, limit: int) -> bytes:
    """The body of the request whose ``headers`` (an ``email.message.Message``) were just read from ``rfile``."""
    coding = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if coding:
        if lengths:
            raise BodyError(400, "send Content-Length or Transfer-Encoding, not both")
        if [c.strip().lower() for c in ",".join(coding).split(",")] != ["chunked"]:
            raise BodyError(400, "Transfer-Encoding: only 'chunked' is accepted")
        return _read_chunked(rfile, limit)
    if not lengths:
        return b""
    values = {v.strip().encode("latin-1", "replace") for v in lengths}
    if len(values) != 1 or not _DIGITS.match(next(iter(values))):
        raise BodyError(400, "Content-Length must be one non-negative whole number of bytes")
    length = int(next(iter(values)))
    check_size(length, limit)
    data = rfile.read(length) if length else b""
    if len(data) != length:
        raise BodyError(400, f"the body ended after {len(data)} of the {length} bytes Content-Length announced")
    return data


def _line(rfile: BinaryIO) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        raise BodyError(400, "malformed chunked body: a chunk-size line is missing or too long")
    return line.rstrip(b"\r\n")


def _read_chunked(rfile: BinaryIO, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_text = _line(rfile).split(b";", 1)[0].strip()  # chunk extensions are ignored, as RFC 9112 allows
        if not _HEX.match(size_text):
            raise BodyError(400, "malformed chunked body: a chunk size is not hexadecimal")
        size = int(size_text, 16)
        if size == 0:
            for _ in range(MAX_TRAILERS):
                if not _line(rfile):
                    return b"".join(parts)
            raise BodyError(400, "malformed chunked body: too many trailer lines")
        total += size
        check_size(total, limit)
        data = rfile.read(size)
        if len(data) != size or rfile.read(2) != b"\r\n":
            raise BodyError(400, "malformed chunked body: a chunk is shorter than its size says")
        parts.append(data)
