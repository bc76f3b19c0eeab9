# SPDX-License-Identifier: GPL-2.0
"""QEMU settings for booting an x86_64 tree (software emulation, no KVM)."""

from __future__ import annotations

from pathlib import Path
from typing import List

QEMU = 'qemu-system-x86_64'
KERNEL_ARGS = 'console=ttyS0 panic=-1 loglevel=7 rdinit=/init'


def command(bzimage: Path, initrd: Path, console: Path, out: Path, err: Path,
            smp: int, memory_mb: int, disk: Path) -> List[str]:
    def serial(name: str, path: Path) -> List[str]:
        return ['-chardev', f'file,id={name},path={path}', '-serial', f'chardev:{name}']

    return [QEMU, '-nodefaults', '-display', 'none', '-no-reboot',
            '-accel', 'tcg', '-cpu', 'max', '-smp', str(smp), '-m', str(memory_mb),
            '-kernel', str(bzimage), '-initrd', str(initrd), '-append', KERNEL_ARGS,
            *serial('con', console), *serial('out', out), *serial('err', err),
            '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,'
            'multidevs=remap',
            '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
            # the guest's /dev/vda: a scratch disk for block I/O workloads
            '-drive', f'file={disk},if=none,format=raw,id=scratch,cache=unsafe',
            '-device', 'virtio-blk-pci,drive=scratch']
