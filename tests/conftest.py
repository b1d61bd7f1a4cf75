"""Shared pytest configuration.

Tests marked ``slow`` are deselected unless the ``-m`` expression names ``slow``: the default
``pytest`` and ``pytest -m theory`` stay inside their time budgets, and ``pytest -m slow`` (or
``-m "theory or slow"``) runs the long sweeps.

The whole session runs with one torch thread, as the reports do (``reporting.environment.torch_threads``):
the tensors are small, and on a loaded 2-core machine intra-op threads that wait for descheduled
peers make the Monte Carlo sweeps 5–20× slower. No value depends on the thread count.
"""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("-m") or ""):
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("slow") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
