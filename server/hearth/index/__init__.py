"""The workspace index: tree-sitter symbols, imports and chunks in SQLite, kept fresh."""
