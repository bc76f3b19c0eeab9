# SPDX-License-Identifier: GPL-2.0
"""A kernel tree's configuration, read with kconfiglib.

The .config is the output of the tree's own Kconfig, so reading it means
parsing that Kconfig: the symbol values then carry their real types and a
symbol that does not exist in this kernel is known not to exist, which a
regex over .config can never tell.  Parsing a whole tree's Kconfig takes a
couple of seconds, so the resulting values are cached per (.config, tree).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
from pathlib import Path
from typing import Dict, Optional

from .. import paths

# kconfiglib 14.1 predates the bare `modules` keyword that replaced
# `option modules` in Kconfig (v5.13); it means exactly the same thing.
_MODULES_KEYWORD = re.compile(r'(?m)^(\s+)modules\s*$')


class KconfigError(Exception):
    """The tree's Kconfig or .config could not be read."""


def _srcarch() -> str:
    machine = platform.machine()
    return {'x86_64': 'x86', 'i686': 'x86', 'aarch64': 'arm64'}.get(machine, machine)


def _parse(srctree: Path, config: Path) -> Dict[str, str]:
    import kconfiglib  # imported late: only a cache miss needs it

    class TreeKconfig(kconfiglib.Kconfig):  # type: ignore[misc]
        def _open(self, filename: str, mode: str) -> io.TextIOBase:
            f = super()._open(filename, mode)
            if 'r' not in mode:
                return f
            with f:
                text = f.read()
            return io.StringIO(_MODULES_KEYWORD.sub(r'\1option modules', text))

    arch = _srcarch()
    saved = dict(os.environ)
    os.environ.update(srctree=str(srctree), ARCH=arch, SRCARCH=arch,
                      CC=os.environ.get('CC', 'gcc'),
                      LD=os.environ.get('LD', 'ld'),
                      HOSTCC='gcc', HOSTCXX='g++',
                      KERNELVERSION='unknown', CC_VERSION_TEXT='')
    cwd = os.getcwd()
    try:
        os.chdir(srctree)
        kconf = TreeKconfig('Kconfig', warn=False)
        kconf.load_config(str(config), replace=True)
    except (kconfiglib.KconfigError, OSError) as e:
        raise KconfigError(f'{srctree}: cannot read Kconfig/.config: {e}') from e
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)
    return {name: sym.str_value for name, sym in kconf.syms.items()
            if sym.nodes}


class Config:
    """Symbol values of one configured tree (names without CONFIG_)."""

    def __init__(self, values: Dict[str, str]) -> None:
        self._values = values

    def exists(self, name: str) -> bool:
        return _strip(name) in self._values

    def value(self, name: str) -> Optional[str]:
        """'y', 'm', 'n', a number or a string; None if not in this kernel."""
        return self._values.get(_strip(name))

    def enabled(self, name: str) -> bool:
        return self.value(name) in ('y', 'm')


def _strip(name: str) -> str:
    return name[len('CONFIG_'):] if name.startswith('CONFIG_') else name


def load(srctree: Path, objtree: Optional[Path] = None) -> Config:
    """Read objtree/.config against srctree's Kconfig, cached."""
    objtree = objtree or srctree
    config = objtree / '.config'
    try:
        data = config.read_bytes()
    except OSError as e:
        raise KconfigError(f'{config}: {e.strerror}') from e
    key = hashlib.sha256(data + str(srctree.resolve()).encode()).hexdigest()[:24]
    cache = paths.cache_dir() / 'kconfig' / f'{key}.json'
    try:
        return Config(json.loads(cache.read_text()))
    except (OSError, ValueError):
        pass
    values = _parse(srctree, config)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f'.tmp{os.getpid()}')
    tmp.write_text(json.dumps(values))
    os.replace(tmp, cache)
    return Config(values)
