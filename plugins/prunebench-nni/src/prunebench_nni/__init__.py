"""prunebench-nni: NNI 3.0's pruners as prunebench pruners (nni-l1, nni-l2, nni-fpgm, nni-slim, nni-taylor).

NNI computes the output-channel masks; the kept channels are removed physically through prunebench's
pruning engine (Torch-Pruning's dependency graph). NNI is imported lazily, inside a prune, and quietly.
Without NNI 3.x installed the names are still listed (``prunebench plugins``) as unavailable, with the
install command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunebench.hookspecs import hookimpl
from prunebench_nni._nni import nni_status
from prunebench_nni._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import Pruner
    from prunebench.register import Register

__all__ = ["PRUNER_NAMES", "__version__", "register_pruners"]

#: the names this plugin registers, in catalogue order
PRUNER_NAMES: tuple[str, ...] = ("nni-l1", "nni-l2", "nni-fpgm", "nni-slim", "nni-taylor")


@hookimpl
def register_pruners(register: Register[type[Pruner]]) -> None:
    """Register the NNI pruners, or list them as unavailable (with the install command) without NNI."""
    reason = nni_status()
    if reason is not None:
        for name in PRUNER_NAMES:
            register.unavailable(name, reason)
        return
    from prunebench_nni.pruners import PRUNERS

    for cls in PRUNERS:
        register(cls)
