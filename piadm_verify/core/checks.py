"""Argument checks shared by every layer: one place for each rule, so that every error message
names the parameter and the range it must lie in."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["positive_int", "positive_ints", "positive_number", "check_v"]


def positive_int(value, name: str) -> int:
    """``value`` as an int if it is an integer ≥ 1 (bool excluded), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_ints(values, name: str) -> list[int]:
    """An integer ≥ 1 or a non-empty iterable of them, as a sorted list without repeats."""
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        return [positive_int(values, name)]
    try:
        items = list(values)
    except TypeError:
        items = []
    if not items or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in items):
        raise ValueError(f"{name} must be a positive integer (or a non-empty list of them), got {values!r}")
    return sorted({int(k) for k in items})


def positive_number(value, name: str) -> float:
    """``value`` as a float if it is a finite real number > 0 (a TypeError or ValueError names ``name``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number > 0, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_v(v) -> float:
    """The noise level ``v`` of the backward dynamics: a finite number ≥ 0."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ValueError(f"v must be a finite number >= 0, got {v!r}")
    return float(v)
