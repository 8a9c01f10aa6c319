"""``python -m dockwright``."""

import sys

from dockwright.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
