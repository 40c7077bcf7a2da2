"""Hearth: private, local AI code completion, explanation and review over LSP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hearth")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
