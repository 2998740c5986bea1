"""Allow ``python -m midib``."""

import sys

from midib.cli import main

sys.exit(main())
