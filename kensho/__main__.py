"""`python -m kensho` runs the console script."""

import sys

from kensho.cli import main

sys.exit(main())
