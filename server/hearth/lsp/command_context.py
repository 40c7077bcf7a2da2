"""What a `workspace/executeCommand` handler needs that pygls does not hand it.

pygls passes a command only its arguments: not the request's `workDoneToken`, and not the
request's future, which `$/cancelRequest` cancels (pygls runs the command as a separate inner
task, so the cancel never reaches it). The protocol subclass records both in a context
variable that the command's task inherits when pygls creates it.
"""

from __future__ import annotations

from collections.abc import Generator
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method


@dataclass(frozen=True)
class CommandContext:
    token: types.ProgressToken | None = None
    request: Future[Any] | None = None  # cancelled by the client's $/cancelRequest


_current: ContextVar[CommandContext | None] = ContextVar("hearth_command", default=None)


def current_command() -> CommandContext:
    return _current.get() or CommandContext()


class HearthProtocol(LanguageServerProtocol):
    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        msg_id = self._ctx_msg_id.get(None)
        request = self._request_futures.get(msg_id) if msg_id is not None else None
        _current.set(CommandContext(params.work_done_token, request))
        result = yield from super().lsp_workspace__execute_command(params)
        return result
