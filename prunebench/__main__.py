"""``python -m prunebench`` runs the CLI."""

import sys

from prunebench.cli import main

sys.exit(main())
