"""Whether a stored landscape still shows its manifold: a refit or a changed trajectory makes it stale."""

from __future__ import annotations

from pinnviz.manifolds import manifold_names, manifold_staleness
from pinnviz.manifolds._persist import manifold_group


def landscape_staleness(run, attrs: dict) -> str | None:
    """Why the landscape with these attrs no longer matches the store, or None when it is current.

    A landscape records the fingerprint of the manifold it was decoded from (`manifold_fingerprint`); the
    manifold records its trajectories' fingerprints. A landscape without the record is checked only against
    a manifold that has one (then the manifold was saved after it, by a refit).
    """
    name = attrs.get("manifold")
    recorded = attrs.get("manifold_fingerprint")
    if name is None:
        return None
    if name not in manifold_names(run):
        return f"its manifold {name!r} is no longer in the store" if recorded else None
    current = dict(manifold_group(run, name).attrs).get("fingerprint")
    if current != recorded:
        return f"manifold {name!r} was fitted again after this landscape was computed"
    reason = manifold_staleness(run, name)
    return f"its manifold {name!r} is stale ({reason})" if reason else None
