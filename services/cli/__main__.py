"""``python -m services.cli`` is ``connector``: how the supervisor starts each service."""

import sys

from services.cli.main import main

sys.exit(main())
