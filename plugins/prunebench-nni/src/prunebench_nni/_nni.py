"""Lazy, quiet access to NNI 3.0: availability check without importing it, and noise-free imports."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import logging
import sys
import warnings
from collections.abc import Iterator
from importlib import metadata
from types import ModuleType

__all__ = ["INSTALL_HINT", "REQUIRED_MAJOR", "import_pruning", "nni_status", "nni_version", "quiet"]

INSTALL_HINT = "install with: pip install nni==3.0 (or pip install -e plugins/prunebench-nni)"
REQUIRED_MAJOR = "3."


def nni_status() -> str | None:
    """Return None when NNI 3.x can be imported here, else why not (with the install command).

    NNI is not imported: this only looks for the package and its version, so loading the plugin stays
    fast and quiet. A ``None`` entry in :data:`sys.modules` (how tests simulate a missing package)
    counts as missing.
    """
    if "nni" in sys.modules and sys.modules["nni"] is None:
        return f"nni is not importable; {INSTALL_HINT}"
    try:
        spec = importlib.util.find_spec("nni")
    except (ImportError, ValueError, AttributeError):
        spec = None
    if spec is None:
        return f"nni is not installed; {INSTALL_HINT}"
    try:
        version = metadata.version("nni")
    except metadata.PackageNotFoundError:
        return None  # importable but without metadata (a source checkout): let the import decide
    if not version.startswith(REQUIRED_MAJOR):
        return f"nni {version} is installed but prunebench-nni needs nni 3.x; {INSTALL_HINT}"
    return None


def nni_version() -> str | None:
    """The installed NNI version (from its metadata, without importing it), or None."""
    try:
        return metadata.version("nni")
    except metadata.PackageNotFoundError:
        return None


@contextlib.contextmanager
def quiet(capture_output: bool = True) -> Iterator[io.StringIO]:
    """Silence NNI: warnings, its ``nni`` logger below ERROR, and (``capture_output``) stdout/stderr.

    What was printed is kept in the yielded buffer. The warning filters NNI installs at import are undone
    when the block exits. Pruning runs with ``capture_output=False`` so that a progress display of the
    host (which may write from another thread) is not swallowed; NNI reports through its logger there.
    """
    buf = io.StringIO()
    logger = logging.getLogger("nni")
    old_level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore")
            if capture_output:
                stack.enter_context(contextlib.redirect_stdout(buf))
                stack.enter_context(contextlib.redirect_stderr(buf))
            yield buf
    finally:
        # NNI sets its logger to INFO with a stdout handler at import; keep it at WARNING afterwards.
        logger.setLevel(max(old_level, logging.WARNING))


def import_pruning() -> ModuleType:
    """Import ``nni.compression.pruning`` quietly; raise a UsageError with the install command if absent."""
    from prunebench.errors import UsageError

    reason = nni_status()
    if reason is not None:
        raise UsageError(f"The NNI pruners need NNI 3.0, but {reason.split(';')[0]}.", hint=INSTALL_HINT)
    with quiet():
        try:
            import nni  # noqa: F401  (nni.trace is used for the optimizers)

            return importlib.import_module("nni.compression.pruning")
        except ImportError as exc:
            raise UsageError(f"Importing NNI failed: {exc}", hint=INSTALL_HINT) from exc
