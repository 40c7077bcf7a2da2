"""Draft tokens from the text itself (prompt lookup), to decode several tokens per step.

Code repeats itself: identifiers, call shapes, the lines around the cursor, and what the
model just wrote. When the last few tokens already occurred earlier in the prompt or the
output, the tokens that followed them there are a cheap guess at what comes next. The
backend evaluates the sampled token and the guess in one batch and keeps the longest run
the model agrees with (greedy decoding only), so the output is exactly what one-by-one
decoding gives; a batch of a few tokens costs little more than one token on a CPU, where
decoding reads all the weights for every step.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Tokens that must match before the following ones are proposed.
NGRAM = 3


class PromptLookup:
    """Proposes what followed the most recent earlier occurrence of the last NGRAM tokens."""

    def __init__(self, tokens: Sequence[int], max_draft: int) -> None:
        self.tokens: list[int] = list(tokens)
        self.max_draft = max_draft
        # Guesses that run long cost more than they save when the model keeps disagreeing:
        # the length grows while whole guesses are accepted and shrinks to what was.
        self.length = min(max_draft, 4)
        # A guess the model rejects outright costs more than the step it meant to save:
        # after one, no guesses for a few tokens (longer after each in a row).
        self.pause = 0
        self._backoff = 0
        self._last: dict[tuple[int, ...], int] = {}  # n-gram -> where it last ended
        self._indexed = 0
        self._index()

    def _index(self) -> None:
        toks = self.tokens
        # Up to the previous token: the n-gram ending at the last token is the query.
        for end in range(max(NGRAM, self._indexed), len(toks)):
            self._last[tuple(toks[end - NGRAM : end])] = end
        self._indexed = max(self._indexed, len(toks))

    def extend(self, tokens: Sequence[int]) -> None:
        self.tokens.extend(tokens)
        self.pause = max(0, self.pause - len(tokens))
        self._index()

    def propose(self, limit: int) -> list[int]:
        """Up to `limit` (and `max_draft`) tokens guessed to follow the current end."""
        n = min(limit, self.length)
        toks = self.tokens
        if n <= 0 or self.pause or len(toks) <= NGRAM:
            return []
        end = self._last.get(tuple(toks[-NGRAM:]))
        if end is None or end >= len(toks):
            return []
        # What followed the earlier occurrence, read on as a repeat when it runs into the
        # present (the text repeats with the distance between the two as its period).
        period = len(toks) - end
        return [toks[end + i % period] for i in range(n)]

    def feedback(self, proposed: int, agreed: int) -> None:
        """How many of the `proposed` tokens the model agreed with."""
        if agreed == proposed:
            self.length = min(self.max_draft, self.length * 2)
        else:
            self.length = max(1, agreed + 1)
        if agreed == 0:
            self._backoff = min(16, max(2, self._backoff * 2))
            self.pause = self._backoff
        else:
            self._backoff = 0
