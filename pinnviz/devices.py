"""The torch device a command computes on ("cpu", "cuda", "cuda:N"), checked before any work.

One check for every command and library entry point that takes a device: a name other than these three
forms, or a CUDA device this machine does not have, is refused with one line (InvalidSettingError).
torch is imported only to ask about CUDA, so the CLI's light commands do not pay for it.
"""

from __future__ import annotations

import re

from pinnviz.errors import InvalidSettingError

DEVICE_FORMS = "cpu, cuda or cuda:N"
_CUDA = re.compile(r"cuda(?::(\d+))?")


def check_device(device: str) -> str:
    """`device` when it is "cpu", or "cuda" / "cuda:N" on a machine with that CUDA device; else one line.

    Example
    -------
    >>> check_device("cpu")
    'cpu'
    """
    if device == "cpu":
        return device
    match = _CUDA.fullmatch(str(device))
    if match is None:
        raise InvalidSettingError(f"device {device!r} is not one of {DEVICE_FORMS}")
    import torch

    if not torch.cuda.is_available():
        raise InvalidSettingError(f"device {device!r} but CUDA is not available on this machine; use --device cpu")
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise InvalidSettingError(f"device {device!r} but this machine has {torch.cuda.device_count()} CUDA "
                                  "device(s), cuda:0 onwards")
    return device


def refuse_device(device: str, command: str, why: str) -> None:
    """For a command that computes nothing a device would speed up: --device cpu is accepted, a CUDA device
    refused (whether or not this machine has one) with one line saying why, anything else as `check_device`."""
    if device == "cpu":
        return
    if _CUDA.fullmatch(str(device)) is None:
        check_device(device)
    raise InvalidSettingError(f"{command} {why}, on the CPU; leave out --device {device}")
