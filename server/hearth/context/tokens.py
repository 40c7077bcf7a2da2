"""Token counting for the context engine: the model's own tokenizer, cached by piece.

Tokenizing a 6 KB prefix costs about 10 ms on a laptop core, more than a keystroke can
afford, so text is tokenized in pieces and each piece is cached: while the user types, only the
piece holding the cursor line is tokenized again. The cuts are content-defined (a line start
whose preceding line hashes to a marker value), so a window starting anywhere in a document is
cut where the whole document is: a document tokenized once when it is opened leaves every
window over it cached except its first and its cursor piece. Pieces after the first are
tokenized behind a newline "glue" that is then removed, so SentencePiece vocabs do not get a
dummy space at every cut.
"""

from __future__ import annotations

import re
import time
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from hearth.errors import ModelLoadError

PIECE_CHARS = 512  # text shorter than this is one piece
CUT_EVERY = 12  # a line start is a cut about once in this many suitable line starts
MAX_PIECE_CHARS = 2048  # past this a piece is cut at the next suitable line start
CACHE_ENTRIES = 8192
DEFAULT_CHARS_PER_TOKEN = 3.0
ESTIMATE_AFTER_CHARS = 4000
ESTIMATE_MARGIN = 1.08
DEFAULT_SECONDS_PER_CHAR = 2e-6  # a cautious guess (about 15 ms per 2048 tokens of code)
_GLUE = "\n"


class Tokenizer(Protocol):
    """What the context engine needs from a model; `Backend` satisfies it."""

    @property
    def n_ctx(self) -> int: ...

    @property
    def bos_id(self) -> int | None: ...

    @property
    def add_bos(self) -> bool: ...

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]: ...

    def special_token_id(self, text: str) -> int | None: ...


class TokenCache:
    """Tokenizes through an LRU cache; `run` tokenizes long text piece by piece."""

    def __init__(self, tokenizer: Tokenizer, entries: int = CACHE_ENTRIES) -> None:
        self.tokenizer = tokenizer
        self.entries = entries
        self._cache: OrderedDict[tuple[bool, str], list[int]] = OrderedDict()
        self._glue: list[int] | None = None
        self._chars = 0  # what was tokenized so far, for `estimate`
        self._ntokens = 0
        self._seconds = 0.0  # time spent in the tokenizer, for `seconds_for`
        # Laid-out snippet token counts per layout, owned by the builder; kept here so they
        # live and die with this tokenizer's cache (an id()-keyed map could outlive it).
        self.costs: dict[tuple[bool, str], dict[str, int]] = {}

    def _get(self, key: tuple[bool, str]) -> list[int] | None:
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
        return hit

    def _put(self, key: tuple[bool, str], value: list[int]) -> list[int]:
        self._chars += len(key[1])
        self._ntokens += len(value)
        self._cache[key] = value
        if len(self._cache) > self.entries:
            self._cache.popitem(last=False)
        return value

    def tokens(self, text: str) -> list[int]:
        """Plain-text tokens of `text` as the start of a run."""
        if not text:
            return []
        key = (False, text)
        hit = self._get(key)
        if hit is not None:
            return hit
        t0 = time.perf_counter()
        ids = self.tokenizer.tokenize(text)
        self._seconds += time.perf_counter() - t0
        return self._put(key, ids)

    def continued(self, text: str) -> list[int]:
        """Tokens of `text` when it continues earlier text (no dummy leading space)."""
        if not text:
            return []
        key = (True, text)
        hit = self._get(key)
        if hit is not None:
            return hit
        if self._glue is None:
            self._glue = self.tokenizer.tokenize(_GLUE)
        t0 = time.perf_counter()
        glued = self.tokenizer.tokenize(_GLUE + text)
        n = len(self._glue)
        ids = glued[n:] if glued[:n] == self._glue else self.tokenizer.tokenize(text)
        self._seconds += time.perf_counter() - t0
        return self._put(key, ids)

    def count(self, text: str) -> int:
        return len(self.tokens(text))

    @property
    def chars_per_token(self) -> float:
        """Learned from what was tokenized; a cautious guess for code until then."""
        if self._chars < ESTIMATE_AFTER_CHARS or not self._ntokens:
            return DEFAULT_CHARS_PER_TOKEN
        return self._chars / self._ntokens

    def estimate(self, text: str, *, continued: bool = False) -> int:
        """The token count of `text` without tokenizing it (the exact one when cached),
        a little on the high side: choosing among many candidates costs no tokenizer calls,
        only what is chosen gets tokenized."""
        hit = self._cache.get((continued, text))
        if hit is not None:
            return len(hit)
        return int(len(text) / self.chars_per_token * ESTIMATE_MARGIN) + 1

    def seconds_for(self, text: str, *, continued: bool = False) -> float:
        """About how long tokenizing `text` takes (nothing when cached), learned from the
        tokenizer calls so far: what lets a build skip material it has no time to tokenize."""
        if (continued, text) in self._cache:
            return 0.0
        if self._chars < ESTIMATE_AFTER_CHARS:
            return len(text) * DEFAULT_SECONDS_PER_CHAR
        return len(text) * self._seconds / self._chars

    def cached_run(self, text: str, *, continued: bool = False) -> bool:
        """Whether every piece of `text` is cached (`run` would not call the tokenizer)."""
        return all(((i > 0 or continued), p) in self._cache for i, p in enumerate(pieces(text)))

    def run(self, text: str, *, continued: bool = False) -> list[int]:
        """Tokens of a long text, piece by piece (see `pieces`)."""
        out: list[int] = []
        for i, piece in enumerate(pieces(text)):
            out.extend(self.continued(piece) if (i or continued) else self.tokens(piece))
        return out


def _cut_after(line: str) -> bool:
    """Whether a cut may follow `line`: its hash alone decides, so the decision does not
    depend on where the text being cut starts."""
    return zlib.crc32(line.encode("utf-8", "surrogatepass")) % CUT_EVERY == 0


def pieces(text: str, size: int = PIECE_CHARS) -> list[str]:
    """Cut `text` at content-defined line starts: after a non-blank line that `_cut_after`
    marks, before a non-blank line (BPE vocabs merge runs of newlines and blank lines). A
    piece longer than `MAX_PIECE_CHARS` is also cut at its next suitable line start. Cuts
    depend only on the lines around them (and forced cuts on the text since the last cut),
    so every window over a document shares its pieces after the first cut, and typing at the
    end never moves an earlier cut."""
    if len(text) <= size:
        return [text]
    out: list[str] = []
    start = 0
    pos = 0  # start of the current line
    n = len(text)
    while True:
        nl = text.find("\n", pos)
        if nl == -1 or nl + 1 >= n:
            break
        line = text[pos:nl]
        pos = nl + 1
        if not line.strip():
            continue
        nxt = text.find("\n", pos)
        next_line = text[pos:] if nxt == -1 else text[pos:nxt]
        if not next_line.strip():
            continue
        if _cut_after(line) or pos - start > MAX_PIECE_CHARS:
            out.append(text[start:pos])
            start = pos
    out.append(text[start:])
    return out


_ESTIMATE = re.compile(r"[A-Za-z]{1,4}|\d{1,3}|\s*\n|[ \t]+|[^\sA-Za-z\d]")


class EstimateTokenizer:
    """Stands in for a model's tokenizer when none is loaded: about one token per four
    letters, per digit triple, per symbol and per whitespace run, close to code BPE vocabs.
    The ids are stable hashes, so prompts still compare and cache like real ones."""

    def __init__(self, n_ctx: int = 4096) -> None:
        self._n_ctx = n_ctx

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def bos_id(self) -> int | None:
        return None

    @property
    def add_bos(self) -> bool:
        return False

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        return [zlib.crc32(t.encode("utf-8")) % 100_000 for t in _ESTIMATE.findall(text)]

    def special_token_id(self, text: str) -> int | None:
        return 100_000 + zlib.crc32(text.encode("utf-8")) % 1000


class VocabTokenizer:
    """A model's tokenizer without its weights (llama-cpp-python `vocab_only`): what
    `hearth context` and the context benchmark count with."""

    def __init__(self, path: Path, n_ctx: int = 4096) -> None:
        from hearth.engine.llamacpp_backend import _import
        from hearth.engine.model_file import read_model_file

        self.model = read_model_file(path)
        llama_cpp = _import()
        try:
            self._llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(
                f"could not read the vocabulary of {path}: {exc}",
                "`hearth model info PATH` shows what the file declares",
            ) from None
        own = self.model.context_length
        self._n_ctx = min(n_ctx, own) if own else n_ctx
        tokens = self.model.metadata.get("tokenizer.ggml.tokens")
        self._index: dict[str, int] = {}
        if isinstance(tokens, list):
            for i, tok in enumerate(tokens):
                self._index.setdefault(str(tok), i)
            self._add_qwen25_tokens(tokens)

    def _add_qwen25_tokens(self, tokens: list[object]) -> None:
        """llama.cpp's Qwen2 vocab file has "[PAD...]" where Qwen2.5-Coder put its FIM and
        repository tokens; name them (as `hearth bench synth` does) so the Qwen template works
        with Qwen2.5-Coder's exact token ids."""
        from hearth.bench.synth import _QWEN25_ADDED, _QWEN25_FIRST_ADDED_ID

        first = _QWEN25_FIRST_ADDED_ID
        if len(tokens) > first + len(_QWEN25_ADDED) and tokens[first] == f"[PAD{first}]":
            for i, text in enumerate(_QWEN25_ADDED, start=first):
                self._index.setdefault(text, i)

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def bos_id(self) -> int | None:
        bos = int(self._llm.token_bos())
        return bos if bos >= 0 else None

    @property
    def add_bos(self) -> bool:
        return bool(self._llm._model.add_bos_token()) if self.bos_id is not None else False

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        if not text:
            return []
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False))

    def special_token_id(self, text: str) -> int | None:
        return self._index.get(text)

    def detokenize(self, tokens: list[int]) -> bytes:
        return bytes(self._llm.detokenize(list(tokens), special=False))

    def close(self) -> None:
        self._llm.close()
