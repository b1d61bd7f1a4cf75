"""The one registry of studies: every study of :mod:`.sde`, :mod:`.ode`, :mod:`.mixture` and
:mod:`.learned` and :mod:`.head_to_head`, by name. The report suites, the baseline, the theory tests and the audits look studies up here and
judge tables with :func:`judge`, so a study's configuration, claims and plots are written once."""

from __future__ import annotations

from collections.abc import Mapping

from ..verification.claims.base import ALPHA
from ..verification.stats import CheckResult
from ..verification.tables import Table
from . import head_to_head, learned, mixture, ode, sde
from .base import Study

__all__ = ["REGISTRY", "SDE", "ODE", "MIXTURE", "LEARNED", "HEAD_TO_HEAD", "study", "judge", "claim_names"]

SDE: tuple[str, ...] = tuple(s.name for s in sde.STUDIES)
ODE: tuple[str, ...] = tuple(s.name for s in ode.STUDIES)
MIXTURE: tuple[str, ...] = tuple(s.name for s in mixture.STUDIES)
LEARNED: tuple[str, ...] = tuple(s.name for s in learned.STUDIES)
HEAD_TO_HEAD: tuple[str, ...] = tuple(s.name for s in head_to_head.STUDIES)
REGISTRY: dict[str, Study] = {s.name: s for s in (*sde.STUDIES, *ode.STUDIES, *mixture.STUDIES, *learned.STUDIES,
                                                  *head_to_head.STUDIES)}
if len(REGISTRY) != len(SDE) + len(ODE) + len(MIXTURE) + len(LEARNED) + len(HEAD_TO_HEAD):
    raise RuntimeError("two studies share a name")


def study(name: str) -> Study:
    """The registered study ``name`` (a ValueError lists the known ones)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown study {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name]


def judge(tables: Mapping[str, Table], alpha: float = ALPHA) -> list[CheckResult]:
    """Every claim the given tables (keyed by table name, each a registered study's) support, each at
    level ``alpha``, in the registry's order."""
    unknown = set(tables) - set(REGISTRY)
    if unknown:
        raise ValueError(f"tables of unknown studies: {sorted(unknown)}")
    return [check for name, s in REGISTRY.items() if name in tables for check in s.judge(tables[name], alpha)]


def claim_names(names=None) -> list[str]:
    """The claim templates declared by the studies ``names`` (default: all)."""
    return [c.name for n in (names or REGISTRY) for c in REGISTRY[n].claims]
