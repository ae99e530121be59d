"""``python -m routebench.cli``: the same as the ``routebench`` command."""

import sys

from . import main

sys.exit(main())
