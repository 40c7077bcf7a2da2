"""Base-protocol framing (`Content-Length` headers) that survives bad frames.

pygls 2.1.1 trusts every `Content-Length`: one wrong value loses every later message and a
huge one makes it buffer without limit. This reader resynchronises instead, on one fact: the
bytes `Content-Length: <digits>\\r\\n` cannot occur inside a valid JSON body (a raw CR/LF is
not allowed inside a JSON string, and the words cannot stand outside one). So a header found
inside a declared body proves the declared length wrong; the frame ends where that header
starts, and the reader carries on from there. (Upstream: pygls `io_.run_async` could do the
same.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_FRAME = 64 * 1024 * 1024
"""Largest body accepted (64 MiB); a bigger frame is refused and skipped."""

_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d{1,20})[ \t]*\r\n", re.IGNORECASE)
_HEADER_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*:[^\r\n]*\r\n")
_MAX_HEADER = 8192
_OVERLAP = 64  # bytes re-scanned when new data arrives, so a header split across reads is found


@dataclass(frozen=True)
class Message:
    """A frame whose body parsed as JSON (`recovered`: its declared length was wrong)."""

    payload: Any
    recovered: bool = False


@dataclass(frozen=True)
class BadFrame:
    """A frame whose body is not JSON (or not UTF-8); `size` bytes were dropped."""

    size: int
    reason: str


@dataclass(frozen=True)
class Refused:
    """A frame declaring more than `MAX_FRAME` bytes; its body is skipped, not buffered."""

    length: int


@dataclass(frozen=True)
class Skipped:
    """Bytes between frames that were not a header (dropped while resynchronising)."""

    size: int


Event = Message | BadFrame | Refused | Skipped


def _parse(body: bytes) -> Any:
    """The JSON value of `body`; raises ValueError (or RecursionError) when it is not one."""
    return json.loads(body.decode("utf-8"))


class FrameReader:
    """Feed it bytes as they arrive; it returns the events they complete."""

    def __init__(self, max_body: int = MAX_FRAME) -> None:
        self.max_body = max_body
        self._buf = bytearray()
        self._length: int | None = None  # declared length of the body being read
        self._salvage = False  # body failed to parse: it ends at the next header
        self._scan = 0  # how far the body has been searched for a header

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        out: list[Event] = []
        while self._read_header(out) if self._length is None else self._read_body(out):
            pass
        return out

    def _read_header(self, out: list[Event]) -> bool:
        buf = self._buf
        m = _LENGTH.search(buf)
        if m is None:
            if len(buf) > _MAX_HEADER:
                drop = len(buf) - _OVERLAP
                del buf[:drop]
                out.append(Skipped(drop))
            return False
        pos = m.end()
        while not buf.startswith(b"\r\n", pos):
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                if len(buf) - m.start() > _MAX_HEADER:
                    return self._skip(m.end(), out)
                return False  # the header block is not complete yet
            inner = _LENGTH.search(buf, pos, eol + 2)
            if inner is not None:  # another length header: the first one was not a frame
                return self._skip(inner.start(), out)
            line = _HEADER_LINE.match(buf, pos)
            if line is None or line.end() != eol + 2:
                return self._skip(m.end(), out)  # not a header block: look further on
            pos = line.end()
        if m.start() and not _only_headers(bytes(buf[: m.start()])):
            out.append(Skipped(m.start()))
        length = int(m.group(1))
        del buf[: pos + 2]
        if length > self.max_body:
            out.append(Refused(length))
        else:
            self._length, self._salvage, self._scan = length, False, 0
        return True

    def _read_body(self, out: list[Event]) -> bool:
        buf = self._buf
        length = self._length
        assert length is not None
        start = max(0, self._scan - _OVERLAP)
        if not self._salvage:
            header = _LENGTH.search(buf, start, min(len(buf), length))
            if header is not None:
                return self._end_bad(header.start(), out)
            if len(buf) < length:
                self._scan = len(buf)
                return False
            try:
                payload = _parse(bytes(buf[:length]))
            except (ValueError, RecursionError):
                self._salvage, self._scan, start = True, 0, 0
            else:
                del buf[:length]
                self._length = None
                out.append(Message(payload))
                return True
        header = _LENGTH.search(buf, start)
        if header is not None:
            return self._end_bad(header.start(), out)
        if len(buf) > self.max_body:
            out.append(BadFrame(len(buf), "no valid frame within the size limit"))
            buf.clear()
            self._length = None
            return False
        self._scan = len(buf)
        return False

    def _end_bad(self, end: int, out: list[Event]) -> bool:
        """The current frame ends at `end` (a header starts there): keep its JSON if any."""
        body = bytes(self._buf[:end])
        del self._buf[:end]
        self._length, self._salvage, self._scan = None, False, 0
        try:
            out.append(Message(_parse(body), recovered=True))
        except (ValueError, RecursionError):
            out.append(BadFrame(len(body), "the body is not JSON or its length is wrong"))
        return True

    def _skip(self, upto: int, out: list[Event]) -> bool:
        del self._buf[:upto]
        out.append(Skipped(upto))
        return True


def _only_headers(data: bytes) -> bool:
    """True when `data` is whole header lines (e.g. a `Content-Type` before the length)."""
    pos = 0
    while pos < len(data):
        m = _HEADER_LINE.match(data, pos)
        if m is None:
            return False
        pos = m.end()
    return True


def encode(body: bytes) -> bytes:
    """One frame around `body`."""
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
