"""Explain and Review: instruction prompts, chat formatting and structured review findings."""
