"""The value every study returns and every claim, plot, report and baseline reads (docs/mathematics.md §7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Table"]


@dataclass(frozen=True)
class Table:
    """A study's result: named columns of equal length, and the settings that produced them."""

    name: str
    columns: dict
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of {self.name} have different lengths {lengths}")

    @classmethod
    def from_rows(cls, name: str, rows: Iterable[Mapping], settings: Mapping | None = None,
                  columns: Sequence[str] | None = None) -> "Table":
        """A table from rows (one mapping per row). ``columns`` fixes the columns and their order
        (default: the first row's keys); every row must give exactly those columns, so that an empty
        table still has its columns when ``columns`` is given."""
        rows = list(rows)
        names = list(columns) if columns is not None else (list(rows[0]) if rows else [])
        for i, row in enumerate(rows):
            if set(row) != set(names):
                raise ValueError(f"row {i} of {name} has columns {sorted(row)}, expected {sorted(names)}")
        return cls(name, {k: [row[k] for row in rows] for k in names}, dict(settings or {}))

    def column(self, key: str) -> np.ndarray:
        return np.asarray(self.columns[key])

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def where(self, **equal) -> "Table":
        """The rows whose columns equal the given values."""
        mask = np.ones(len(self), dtype=bool)
        for key, value in equal.items():
            mask &= self.column(key) == value
        return Table(self.name, {k: list(np.asarray(v)[mask]) for k, v in self.columns.items()}, self.settings)

    def replace_column(self, key: str, values) -> "Table":
        """The same table with column ``key`` set to ``values`` (a new table; this one is unchanged)."""
        values = list(values)
        if len(values) != len(self):
            raise ValueError(f"column {key} needs {len(self)} values, got {len(values)}")
        return Table(self.name, {**self.columns, key: values}, self.settings)

    def to_json(self) -> dict:
        plain = lambda v: v.item() if hasattr(v, "item") else v
        return {"name": self.name, "settings": {k: plain(v) for k, v in self.settings.items()},
                "columns": {k: [plain(x) for x in v] for k, v in self.columns.items()}}
