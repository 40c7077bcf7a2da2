"""The context engine: what the model sees for a completion, within a token budget."""

from hearth.context.builder import CompletionContext, ContextEngine, ContextPart, DocumentView

__all__ = ["CompletionContext", "ContextEngine", "ContextPart", "DocumentView"]
