"""``python -m auditmon``."""

import sys

from auditmon.cli import main

sys.exit(main())
