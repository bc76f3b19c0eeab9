# SPDX-License-Identifier: GPL-2.0
"""Where the kit lives and where it keeps what it caches.

The kit runs from a checkout or from a kernel tree it was installed into;
either way the package sits in tools/stap-gen/stapgen/ and everything else
is found relative to it.  Caches live outside any tree, keyed by what they
were built from, so deleting them is always safe.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
TOOL_DIR = PACKAGE_DIR.parent             # tools/stap-gen
TOP_DIR = TOOL_DIR.parent.parent          # the checkout or the kernel tree
LAUNCHER = TOOL_DIR / 'stap-gen'
CONFIG_FRAGMENT = TOOL_DIR / 'configs' / 'stap-test.config'


def cache_dir() -> Path:
    """The kit's cache root: $STAPGEN_CACHE, else $XDG_CACHE_HOME/stap-gen."""
    env = os.environ.get('STAPGEN_CACHE')
    if env:
        return Path(env)
    xdg = os.environ.get('XDG_CACHE_HOME') or os.path.join(
        os.path.expanduser('~'), '.cache')
    return Path(xdg) / 'stap-gen'


def templates_dir() -> Path:
    """kernel-templates/ beside the kit (the tree's own when installed)."""
    return TOP_DIR / 'kernel-templates'
