"""``python -m huatu.cli``: the ``huatu`` command."""

import sys

from huatu.cli import main

sys.exit(main())
