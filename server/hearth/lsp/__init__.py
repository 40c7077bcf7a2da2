"""The language server: wiring (server.py) and one module per feature."""
