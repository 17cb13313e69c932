"""``python -m neuralmi``: the command line."""

import sys

from neuralmi.cli import main

sys.exit(main())
