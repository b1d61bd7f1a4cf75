"""The environment a report or a baseline records, and the thread setting their studies run with."""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import subprocess
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import torch

__all__ = ["environment", "json_safe", "torch_threads", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def environment(seed: int | None = None) -> dict:
    """Versions, platform, device and dtype, git commit (None outside a checkout) and a UTC timestamp."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "piadm_verify": _version("piadm-verify"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        **{name: _version(name) for name in ("numpy", "scipy", "statsmodels", "matplotlib", "numba", "distributed")},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "device": "cpu",
        "dtype": "float64",
        "seed": seed,
        "git_commit": commit,
        "git_modified": None if status is None else bool(status),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def json_safe(value):
    """``value`` with numpy scalars made plain and non-finite floats written as "inf", "-inf", "nan"
    (strict JSON has no infinities; ``float()`` reads these strings back)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


@contextmanager
def torch_threads(count: int | None):
    """Run with ``count`` torch intra-op threads (None: leave torch's setting), restoring it after.

    The sweeps' tensors are small (hundreds of samples in a few dimensions): intra-op threads only
    add synchronisation, and on a loaded 2-core machine they make the Monte Carlo sweeps 3-30×
    slower. No value depends on the thread count (the oracle's compiled kernels and torch's
    generators do not).
    """
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
