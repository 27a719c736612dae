"""``python bench/run.py``: the same harness as ``python -m bench``, runnable as a script."""

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import main

if __name__ == "__main__":
    sys.exit(main())
