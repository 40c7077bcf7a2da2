"""What Hearth's features take from an open document, and which documents they refuse.

The document itself stays exactly as the editor sent it (document sync is exact at any size);
these checks stand between it and the features that read it (completion, context, Explain and
Review, the index of open buffers):

- a document over `document_max_bytes` is refused: redacting, parsing and tokenizing it
  would stall every other request (redacting a 50 MB file alone took 12 s, holding the GIL);
- a binary-looking document (NUL or control bytes in its first 8 KiB: the walker's rule for
  files on disk) is refused: no suggestion is worth the model's time there;
- lone surrogates (an editor may hold them; UTF-8 cannot encode them) become U+FFFD and NUL
  bytes become spaces, one code point for one and the same UTF-8 length, so every position
  stays where it was and no tokenizer or database sees what it cannot take;
- what reaches a prompt has its secrets masked (`index/redact.py`, same length too); the
  masked text is kept per version, since a keystroke's note and the request after it both
  need it (masking a 100 kB document takes ~1.5 ms).

A refusal is quiet where the protocol expects quiet (an empty completion) and a clear error
where the user asked (Explain, Review, show context); the user is told once per document,
with the setting that lifts the limit.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from hearth.errors import InputFileError
from hearth.index.redact import redact
from hearth.index.walker import looks_binary

log = logging.getLogger(__name__)

HEAD_CHARS = 8192  # what the binary check looks at, as the walker does for files on disk
_UNUSABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Refusal:
    """Why a document is left alone: `reason` is "too-large" or "binary"."""

    reason: str
    message: str
    hint: str

    def error(self) -> InputFileError:
        return InputFileError(self.message, self.hint)

    def user_message(self) -> str:
        return self.error().user_message()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def over_limit(text: str, limit: int) -> bool:
    """Whether `text` takes more than `limit` bytes as UTF-8, without encoding a huge text."""
    if len(text) > limit:
        return True  # every code point is at least one byte
    if text.isascii() or len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


def refusal(text: str, name: str, limit: int) -> Refusal | None:
    """Why the features must leave the document `name` alone, or None."""
    if over_limit(text, limit):
        size = len(text.encode("utf-8", "surrogatepass"))
        return Refusal(
            "too-large",
            f"{name} is {_mb(size)}, over Hearth's limit for open documents "
            f"({_mb(limit)}): completion, Explain, Review and context skip it",
            "raise the documentMaxBytes setting (hearth.documentMaxBytes) to use Hearth on it",
        )
    if looks_binary(text[:HEAD_CHARS].encode("utf-8", "surrogatepass")):
        return Refusal(
            "binary",
            f"{name} looks like a binary file (NUL or control bytes near its start): "
            "completion, Explain, Review and context skip it",
            "Hearth works on text source files",
        )
    return None


def usable(text: str) -> str:
    """`text` with lone surrogates as U+FFFD and NUL bytes as spaces (same positions)."""
    if _UNUSABLE.search(text) is None:
        return text
    return _UNUSABLE.sub(lambda m: " " if m.group() == "\x00" else "\ufffd", text)


class DocumentGuard:
    """The refusal of each open document, computed once per version, and one notice per
    document when it starts being refused (thread-safe: the index thread asks too)."""

    def __init__(self, limit: Callable[[], int], notify: Callable[[str], None]) -> None:
        self._limit = limit
        self._notify = notify
        self._cache: dict[str, tuple[tuple[int, int, int, int], Refusal | None]] = {}
        self._noticed: set[str] = set()
        self._masked: dict[str, tuple[tuple[int, int, int], str]] = {}
        self._lock = threading.Lock()

    def check(self, uri: str, text: str, version: int | None = None) -> Refusal | None:
        limit = self._limit()
        key = (id(text), len(text), -1 if version is None else version, limit)
        with self._lock:
            hit = self._cache.get(uri)
        if hit is not None and hit[0] == key:
            return hit[1]
        found = refusal(text, _name(uri), limit)
        with self._lock:
            self._cache[uri] = (key, found)
        return found

    def changed(self, uri: str, text: str, version: int | None = None) -> Refusal | None:
        """`check`, telling the user the first time the document is refused."""
        found = self.check(uri, text, version)
        with self._lock:
            first = found is not None and uri not in self._noticed
            if found is None:
                self._noticed.discard(uri)
            elif first:
                self._noticed.add(uri)
        if first and found is not None:
            log.warning("%s", found.message)
            self._notify(found.user_message())
        return found

    def prompt_text(self, uri: str, text: str, version: int | None = None) -> str:
        """`text` as features may put it in a prompt: secrets masked, `usable`, same length."""
        key = (id(text), len(text), -1 if version is None else version)
        with self._lock:
            hit = self._masked.get(uri)
        if hit is not None and hit[0] == key:
            return hit[1]
        masked = usable(redact(text))
        with self._lock:
            self._masked[uri] = (key, masked)
        return masked

    def closed(self, uri: str) -> None:
        with self._lock:
            self._cache.pop(uri, None)
            self._masked.pop(uri, None)
            self._noticed.discard(uri)


def _name(uri: str) -> str:
    """The document's file name: enough for the user, no full path in messages."""
    tail = uri.rstrip("/").rsplit("/", 1)[-1]
    return unquote(tail) or "this document"
