# SPDX-License-Identifier: GPL-2.0
"""python -m stapgen: the stap-gen command."""

import sys

from .cli import main

sys.exit(main())
