"""Shared pytest configuration.

Tests marked ``slow`` are deselected unless the ``-m`` expression names ``slow``: the default
``pytest`` and ``pytest -m theory`` stay inside their time budgets, and ``pytest -m slow`` (or
``-m "theory or slow"``) runs the long sweeps.
"""



def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("-m") or ""):
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("slow") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
