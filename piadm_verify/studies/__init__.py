"""Convergence studies as data (docs/mathematics.md §7): each study is a configuration, a sweep that
returns a :class:`~piadm_verify.verification.tables.Table`, the claims that judge it and its
plots, declared once in :mod:`.sde`, :mod:`.ode`, :mod:`.mixture`, :mod:`.learned` or
:mod:`.head_to_head` and registered in :mod:`.registry`."""

from . import head_to_head, learned, mixture, ode, sde
from .base import CORRECT, Plot, Study, Variant
from .registry import REGISTRY, judge, study

__all__ = ["Study", "Plot", "Variant", "CORRECT", "REGISTRY", "study", "judge", "sde", "ode", "mixture", "learned",
           "head_to_head"]
