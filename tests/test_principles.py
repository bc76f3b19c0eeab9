"""The kit keeps no knowledge of kernel versions outside kernel-templates/:
no LINUX_VERSION_CODE or feature-probe macros in the templates, no kernel
version tables in the Python, no compile probes.  A tree's facts come from
the tree; a kernel API change is a template edit."""

from __future__ import annotations

import io
import re
import tokenize

from conftest import TOP

KIT = TOP / 'tools' / 'stap-gen' / 'stapgen'
TEMPLATES = TOP / 'kernel-templates'

# Version-looking strings the Python may hold, and why.
ALLOWED = {
    'testtree.py': 'the test kernels the kit builds for its own tests',
    'overhead.py': 'the benchmark runs on a test kernel',
    'bench.py': 'the distro vmlinux the benchmark fetches',
    'preprocess.py': 'systemtap_v, the language level scripts may test',
}


def test_templates_do_not_test_kernel_versions() -> None:
    bad = re.compile(r'LINUX_VERSION_CODE|KERNEL_VERSION\s*\(|LINUX_VERSION_(MAJOR|PATCHLEVEL)'
                     r'|\bSTAPCONF_|#\s*if(n?def)?\s+HAVE_')
    files = sorted(p for p in TEMPLATES.rglob('*') if p.is_file())
    assert len(files) > 10
    for path in files:
        for no, line in enumerate(path.read_text().splitlines(), 1):
            assert not bad.search(line), f'{path}:{no}: {line.strip()}'


def test_python_holds_no_kernel_versions() -> None:
    version = re.compile(r'''^[rbf]*['"]v?[2-7]\.\d+(\.\d+)?[^'"]*['"]$''')
    for path in sorted(KIT.rglob('*.py')):
        if path.name in ALLOWED:
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        for tok in tokens:
            if tok.type == tokenize.STRING:
                assert not version.match(tok.string), \
                    f'{path.name}:{tok.start[0]}: {tok.string}'
            if tok.type == tokenize.NAME and tok.string in ('LINUX_VERSION_CODE',
                                                             'KERNEL_VERSION'):
                raise AssertionError(f'{path.name}:{tok.start[0]}: {tok.string}')


def test_no_compile_probes() -> None:
    """Only the module build and the test kernels' build run a compiler or
    make; nothing compiles a test program to learn what a kernel has."""
    runs_tools = re.compile(r'''\[\s*['"](make|gcc|cc|clang)['"]''')
    users = sorted(p.name for p in KIT.rglob('*.py') if runs_tools.search(p.read_text()))
    assert set(users) <= {'kbuild.py', 'testtree.py', 'overhead.py'}, users
    assert 'autoconf' not in (KIT / 'run' / 'kbuild.py').read_text().replace('autoconf.h', '')
