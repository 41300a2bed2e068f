"""The one check of every user-given name (trajectory, manifold, landscape, probe) before anything is written.

A name becomes a Zarr group key and a path component, and `--trajectories` splits on commas, so a name
must be one plain path component that can be selected again.
"""

from __future__ import annotations

import re

from pinnviz.errors import InvalidSettingError

MAX_NAME_LENGTH = 200
_FORBIDDEN = re.compile(r"[/\\,:*?\"<>|\s\x00-\x1f\x7f]")


def check_name(kind: str, name: str) -> str:
    """Return `name` if it is a valid `kind` name, else raise InvalidSettingError saying what is wrong.

    Refused: empty names, a leading '.', '..' anywhere, '/', '\\', ',', whitespace, control characters,
    the characters Windows forbids in file names (``: * ? " < > |``), and names over 200 characters.

    Example
    -------
    >>> check_name("trajectory", "pinn-adam-seed0")
    'pinn-adam-seed0'
    """
    if not isinstance(name, str) or not name:
        raise InvalidSettingError(f"{kind} name must not be empty")
    problem = None
    if name.startswith("."):
        problem = "no leading '.'"
    elif ".." in name:
        problem = "no '..'"
    elif len(name) > MAX_NAME_LENGTH:
        problem = f"at most {MAX_NAME_LENGTH} characters"
    else:
        bad = _FORBIDDEN.search(name)
        if bad:
            char = bad.group()
            shown = {" ": "spaces", "\t": "tabs", "\n": "newlines"}.get(char, repr(char))
            problem = f"no {shown}"
    if problem:
        raise InvalidSettingError(f"{kind} name {name!r} must be a plain name ({problem}); use letters, digits, "
                                  "'-', '_' and '.'")
    return name
