# SPDX-License-Identifier: GPL-2.0
"""The run-time limits a module is built with (SystemTap's names).

A plain table, so that the command line can check -D without loading the
code generator.
"""

from typing import Dict

# Run-time limits (SystemTap's names), each overridable with -D NAME=VALUE.
DEFAULT_LIMITS: Dict[str, str] = {
    'MAXACTION': '1000',
    'MAXACTION_INTERRUPTIBLE': '(MAXACTION * 10)',   # begin, end, error, procfs
    'MAXMAPENTRIES': '2048',
    'MAXSTRINGLEN': '256',
    'MAXERRORS': '0',
    'MAXNESTING': '10',
    'MAXSKIPPED': '100',
    'MAXTRYLOCK': '100',            # tries for a lock, TRYLOCKDELAY us apart
    'TRYLOCKDELAY': '10',
    'STP_PRINTBUF': '8192',
    'STP_BUFSIZE': '(1024 * 1024)',
    'STP_READ_CHUNK': '(256 * 1024)',
    'STP_HOUSEKEEPING_MS': '20',
    'STP_SUPPRESS_ERRORS': '0',     # --suppress-handler-errors
}
