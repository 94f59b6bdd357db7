"""``python -m auditmon``."""

import sys

from auditmon.entry import main

sys.exit(main())
