"""Completion: FIM prompt assembly and one-shot completion."""
