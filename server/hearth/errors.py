"""One error hierarchy for everything a user can get wrong or run into.

Each error carries a message (what is wrong) and a hint (what to do). The CLI prints both
and exits non-zero; the LSP layer maps them to JSON-RPC errors and `window/showMessage`.
Neither ever shows a traceback or workspace text to the user.
"""

from __future__ import annotations


class HearthError(Exception):
    """Base class: a problem with a message for the user and a hint on what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def user_message(self) -> str:
        """The message and hint as one text, the way a user should read it."""
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(HearthError):
    """A setting has a bad value or a config file cannot be read."""

    exit_code = 2


class UsageError(HearthError):
    """The command line was used wrongly (bad FILE:LINE:COL, missing argument)."""

    exit_code = 2


class InputFileError(HearthError):
    """A source file cannot be used: missing, binary, too large or not UTF-8."""


class PositionError(HearthError):
    """A line/column lies outside the document."""

    exit_code = 2


class ModelError(HearthError):
    """Base for everything about a model file and its loading."""

    exit_code = 3


class ModelNotFoundError(ModelError):
    """No model file at the given path, or no model configured at all."""


class ModelFormatError(ModelError):
    """The file is not a GGUF or legacy GGML model, or it is truncated/corrupt."""


class BackendUnavailableError(ModelError):
    """The requested backend library is not installed or failed to import."""


class UnsupportedModelError(ModelError):
    """The chosen backend cannot load this file's architecture or vocabulary."""


class ModelLoadError(ModelError):
    """The backend tried and failed to load the file."""


class ModelCrashError(ModelLoadError):
    """The backend crashed, aborted or hung on the file in the probe process (never in
    Hearth's own): the file passed Hearth's checks yet breaks the backend's native code."""


class ContextOverflowError(HearthError):
    """A prompt does not fit in the model's context window."""


class DownloadError(HearthError):
    """A model download failed (network, checksum, disk)."""

    exit_code = 4


class OfflineError(DownloadError):
    """The model hub cannot be reached; the user must supply a local file."""

    def user_message(self) -> str:
        # One line: offline is an expected state, and the fix is the whole message.
        return f"{self.message}; {self.hint}" if self.hint else self.message
