"""``python -m neuralmi``: the command line."""

import sys

try:
    from neuralmi.cli import main
except KeyboardInterrupt:  # Ctrl-C before the command line is up: one line, as from main
    print("neuralmi: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
