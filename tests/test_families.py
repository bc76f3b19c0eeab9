# SPDX-License-Identifier: GPL-2.0
"""The probe families of SystemTap's scripts beyond kernel code: procfs,
perf, netfilter, kernel.data, begin(N)/never.  Placement (-p2) against
each test tree and every refusal, with its position and reason; what they
do in a running kernel is checked by the self-tests in QEMU (procfs,
perfsw, perfhw, netfilter, watch, probepoints)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import stapgen


def p2(kdir: Path, script: str, *opts: str) -> str:
    r = stapgen('-r', str(kdir), '-p2', *opts, '-e', script)
    assert r.returncode == 0, r.stderr
    return r.stdout


def refused(kdir: Path, script: str, *opts: str) -> str:
    r = stapgen('-r', str(kdir), '-p2', *opts, '-e', script)
    assert r.returncode != 0 and r.stdout == ''
    return r.stderr


def test_placements(kdir: Path) -> None:
    out = p2(kdir, 'probe procfs.read, procfs("x").umask(0077).write.maxsize(9), '
                   'perf.sw.cpu_clock, perf.sw("page-faults").sample(10), '
                   'perf.type(1).config(3), '
                   'netfilter.hook("NF_INET_FORWARD").pf("NFPROTO_IPV6").priority(-5), '
                   'netfilter.pf(2).hook(0), kernel.data("jiffies").rw.length(4), '
                   'begin(-3), never { }')
    assert out.splitlines() == [
        'procfs("command").read', 'procfs("x").umask(0077).write.maxsize(9)',
        'perf.sw.cpu_clock.sample(1000000)', 'perf.sw.page_faults.sample(10)',
        'perf.type(1).config(3).sample(1000000)',
        'netfilter.hook("NF_INET_FORWARD").pf("NFPROTO_IPV6").priority(-5)',
        'netfilter.hook("0").pf("2")', 'kernel.data("jiffies").rw.length(4)', 'begin(-3)']


@pytest.mark.parametrize('script, where, message', [
    ('probe procfs("output").read { }', '1:7', 'procfs("output"): a file name'),
    ('probe procfs("a").peek { }', '1:19', 'a procfs probe is .read or .write'),
    ('probe procfs("a").read.umask(1) { }', '1:24', "unknown procfs probe suffix '.umask'"),
    ('probe procfs.read { }\nprobe procfs("command").read { }', '2:1',
     'procfs("command") has two .read probes'),
    ('probe perf.sw.cpu_clok { }', '1:12', "this tree has no sw perf counter 'cpu_clok'"),
    ('probe perf.hw.cpu_cycles.sample(0) { }', '1:26', '.sample(N) takes a positive count'),
    ('probe perf.bogus { }', '1:12', "unknown perf probe 'perf.bogus'"),
    ('probe netfilter.hook("NF_INET_LOCAL_INN") { }', '1:17',
     'this tree has no netfilter hook "NF_INET_LOCAL_INN"'),
    ('probe netfilter.pf("NFPROTO_IPV4") { }', '1:7', 'a netfilter probe needs .hook("HOOK")'),
    ('probe kernel.data("vm_dirty_ratio").write { }', '1:14',
     "'vm_dirty_ratio' is not exported by the kernel"),
    ('probe kernel.data("no_such_thing").write { }', '1:14', 'the kernel has no data symbol'),
    ('probe kernel.data("jiffies").read { }', '1:30', 'kernel.data(...) is .write or .rw'),
    ('probe kernel.data(4096).write { }', '1:14', 'kernel.data(ADDR) needs guru mode (-g)'),
    ('probe begin("x") { }', '1:7', 'begin(N) takes a number'),
])
def test_refusals(kdir: Path, script: str, where: str, message: str) -> None:
    err = refused(kdir, script)
    assert f'<command line>:{where}: error: ' in err and message in err, err


def test_netfilter_verdict_needs_guru(kdir: Path) -> None:
    script = 'probe netfilter.hook("NF_INET_LOCAL_IN") { $verdict = 0 }'
    assert "writing '$verdict' needs guru mode (-g)" in refused(kdir, script)
    p2(kdir, script, '-g')
    assert "'$indev_name' is read only in this probe" in \
        refused(kdir, 'probe netfilter.hook("NF_INET_LOCAL_IN") { $indev_name = "x" }', '-g')
