"""Allow `python -m hearth`."""

from hearth.cli import main

# The guard matters: indexing workers are spawned processes that import this module.
if __name__ == "__main__":
    raise SystemExit(main())
