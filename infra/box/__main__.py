"""`python -m infra.box`: the same as scripts/box."""

import sys

from infra.box.cli import main

sys.exit(main())
