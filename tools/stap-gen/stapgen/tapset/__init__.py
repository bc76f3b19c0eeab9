# SPDX-License-Identifier: GPL-2.0
"""Tapsets made from the tree on demand (the syscall family)."""
