"""``python -m exporter.simulator``: run a standalone Soda Cloud simulator."""

import sys

from exporter.simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
