"""Open documents: pygls' workspace with edits applied by the LSP rules in `positions`.

pygls 2.1.1 applies incremental edits with `str.splitlines` (which also splits at `\\v`, `\\f`,
`\\x85`, U+2028...), clamps a column past the end of the last line to one character short of
it, can split a `\\r\\n` pair, and raises on a change to a document that was never opened.
These two subclasses keep pygls' interface (handlers keep using `ls.workspace`) and replace
only the arithmetic. (Upstream: pygls `PositionCodec.position_from_client_units` and
`TextDocument.lines` should follow the LSP line-break and clamping rules.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from hearth.lsp import positions

log = logging.getLogger(__name__)

_ENCODINGS = {
    types.PositionEncodingKind.Utf8: positions.UTF8,
    types.PositionEncodingKind.Utf16: positions.UTF16,
    types.PositionEncodingKind.Utf32: positions.UTF32,
}


class HearthTextDocument(TextDocument):
    """A pygls text document whose positions follow `hearth.lsp.positions`."""

    @property
    def encoding(self) -> str:
        """The negotiated position encoding, as `positions` names it (UTF-16 by default)."""
        return _ENCODINGS.get(self.position_codec.encoding, positions.UTF16)  # type: ignore[arg-type]

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        r = change.range
        self._source = positions.apply_change(
            self.source,
            (r.start.line, r.start.character),
            (r.end.line, r.end.character),
            change.text,
            self.encoding,
        )

    @property
    def lines(self) -> Sequence[str]:
        return tuple(positions.split_lines(self.source))

    def offset_at_position(self, client_position: types.Position) -> int:
        return positions.offset_at(
            self.source, client_position.line, client_position.character, self.encoding
        )

    def position_from_client_units(self, position: types.Position) -> ServerTextPosition:
        offset = self.offset_at_position(position)
        line, index = positions.position_at(self.source, offset, positions.UTF32)
        return ServerTextPosition(line, index)

    def range_from_client_units(self, range: types.Range) -> ServerTextRange:
        return ServerTextRange(
            self.position_from_client_units(range.start),
            self.position_from_client_units(range.end),
        )


class HearthWorkspace(Workspace):
    """pygls' workspace holding `HearthTextDocument`s; changes to unopened documents are
    dropped with a warning instead of raising inside the notification handler."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return HearthTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )

    def update_text_document(
        self,
        text_doc: types.VersionedTextDocumentIdentifier,
        change: types.TextDocumentContentChangeEvent,
    ) -> None:
        if not self.has_document(text_doc.uri):
            log.warning("ignoring a change to a document that is not open")
            return
        super().update_text_document(text_doc, change)

    def has_document(self, uri: str) -> bool:
        from urllib.parse import unquote

        return unquote(uri) in self._text_documents
