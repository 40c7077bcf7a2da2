"""Suggestions kept by the text around the cursor, and answered again as the user types them.

When the user types the first characters of the suggestion on screen, the new request is the
old one moved forward: the answer is the rest of the same suggestion, with no model call.
Entries remember the tail of the prefix and the head of the suffix; that is enough to say
"same place, same text" without holding whole documents.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

PREFIX_KEY_CHARS = 2000
SUFFIX_KEY_CHARS = 500


def cache_key(prefix: str, suffix: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(prefix[-PREFIX_KEY_CHARS:].encode("utf-8", "surrogatepass"))
    h.update(b"\0\1")
    h.update(suffix[:SUFFIX_KEY_CHARS].encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    prefix_len: int
    prefix_tail: str
    suffix_head: str
    items: tuple[str, ...]  # suggestions, best first


@dataclass(frozen=True)
class CacheHit:
    items: tuple[str, ...]
    typed: str  # what the user typed of the suggestion since it was made ("" = same place)


class SuggestionCache:
    """An LRU of suggestions per document."""

    def __init__(self, per_document: int = 64) -> None:
        self.per_document = per_document
        self._docs: dict[str, OrderedDict[str, CacheEntry]] = {}

    def put(self, uri: str, prefix: str, suffix: str, items: tuple[str, ...]) -> None:
        items = tuple(i for i in items if i)
        if not items:
            return
        entries = self._docs.setdefault(uri, OrderedDict())
        key = cache_key(prefix, suffix)
        entries[key] = CacheEntry(
            len(prefix), prefix[-PREFIX_KEY_CHARS:], suffix[:SUFFIX_KEY_CHARS], items
        )
        entries.move_to_end(key)
        while len(entries) > self.per_document:
            entries.popitem(last=False)

    def get(self, uri: str, prefix: str, suffix: str) -> CacheHit | None:
        """The suggestions for this place: stored here, or typed-ahead from an earlier place."""
        entries = self._docs.get(uri)
        if not entries:
            return None
        key = cache_key(prefix, suffix)
        exact = entries.get(key)
        if exact is not None:
            entries.move_to_end(key)
            return CacheHit(exact.items, "")
        head = suffix[:SUFFIX_KEY_CHARS]
        for key, entry in reversed(entries.items()):
            typed_len = len(prefix) - entry.prefix_len
            if typed_len <= 0 or entry.suffix_head != head:
                continue
            typed = prefix[entry.prefix_len :]
            start = entry.prefix_len - len(entry.prefix_tail)
            if prefix[start : entry.prefix_len] != entry.prefix_tail:
                continue
            rest = tuple(i[typed_len:] for i in entry.items if i.startswith(typed))
            rest = tuple(r for r in rest if r.strip())
            if rest:
                entries.move_to_end(key)
                return CacheHit(rest, typed)
        return None

    def size(self) -> int:
        return sum(len(e) for e in self._docs.values())

    def drop(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def clear(self) -> None:
        self._docs.clear()
