"""The one-run benchmark report: same as `gdfast bench`. See --help."""

import sys

from gdfast.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
