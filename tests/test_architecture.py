"""The package's import graph, read from the source with ``ast`` (imports inside functions count).

Layers, bottom to top (README "Layout"): ``analytic`` → ``core`` → ``samplers`` | ``oracle`` (side by
side: neither imports the other) → ``scores`` → ``models`` | ``external`` (side by side: learned score
networks, other libraries' samplers) → ``verification`` → ``studies`` → ``reporting`` →
``testing`` (the kit for other people's samplers) → ``cli`` → the package's ``__init__``/``__main__``. A module may import from its own subpackage and
from lower layers only; there are no cycles; no private name (``_x``) is imported from another
subpackage. The checker itself is shown failing on a small package with a deliberate cycle, an
upward import and a private import.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS = {
    "analytic": 0,
    "core": 1,
    "samplers": 2,
    "oracle": 2,
    "scores": 3,
    "models": 4,
    "external": 4,
    "verification": 5,
    "studies": 6,
    "reporting": 7,
    "testing": 8,
    "cli": 9,
    "__init__": 10,
    "__main__": 10,
}


def modules(root: Path, package: str) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of ``package`` under ``root``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_package(name: str, known: dict[str, Path]) -> bool:
    return name in known and known[name].name == "__init__.py"


def imports(known: dict[str, Path], packages: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Every import between known modules: ``(importer, imported module, imported name or "")``.

    ``from m import x`` counts as an import of ``m.x`` when that is a module, else of ``m`` (name
    ``x``). Relative imports are resolved; imports of anything outside ``packages`` are ignored.
    """
    edges = []
    for name, path in known.items():
        package = name if _is_package(name, known) else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in packages:
                        edges.append((name, alias.name, ""))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] not in packages:
                    continue
                for alias in node.names:
                    target = f"{source}.{alias.name}"
                    edges.append((name, target, "") if target in known else (name, source, alias.name))
    return edges


def _unit(module: str) -> str:
    """The layer unit of a module: ``analytic``, a subpackage of piadm_verify, or a top-level module."""
    parts = module.split(".")
    if parts[0] == "analytic":
        return "analytic"
    return "__init__" if len(parts) == 1 else parts[1]


def violations(root: Path, packages: tuple[str, ...] = ("analytic", "piadm_verify"),
               layers: dict[str, int] = LAYERS) -> list[str]:
    """Everything that breaks the layering, as readable lines (empty when the graph is clean)."""
    known = {}
    for package in packages:
        known.update(modules(root, package))
    edges = imports(known, packages)
    problems = []
    graph: dict[str, set[str]] = {name: set() for name in known}
    for importer, imported, name in edges:
        if imported not in known:
            problems.append(f"{importer} imports {imported}, which is not a module of the package")
            continue
        if imported != importer:
            graph[importer].add(imported)
        low, high = _unit(imported), _unit(importer)
        if low not in layers or high not in layers:
            problems.append(f"{importer} → {imported}: {low if low not in layers else high} has no layer")
        elif low != high and layers[low] >= layers[high]:
            problems.append(f"{importer} ({high}, layer {layers[high]}) imports {imported} ({low}, layer {layers[low]})")
        if name.startswith("_") and low != high:
            problems.append(f"{importer} imports the private name {name} from {imported} (another subpackage)")
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        problems.append(f"import cycle: {' → '.join(error.args[1])}")
    return problems


def layer_depths(root: Path = ROOT) -> dict[str, int]:
    """The longest import chain below each module (0 for a module that imports nothing of the package)."""
    known = {**modules(root, "analytic"), **modules(root, "piadm_verify")}
    graph: dict[str, set[str]] = {name: set() for name in known}
    for importer, imported, _ in imports(known, ("analytic", "piadm_verify")):
        if imported in known and imported != importer:
            graph[importer].add(imported)
    depth: dict[str, int] = {}
    for name in graphlib.TopologicalSorter(graph).static_order():
        depth[name] = 1 + max((depth[d] for d in graph[name]), default=-1)
    return depth


def test_the_package_has_no_cycles_no_upward_imports_and_no_private_cross_imports():
    problems = violations(ROOT)
    assert not problems, "\n".join(problems)


def test_every_subpackage_has_a_layer():
    units = {_unit(name) for name in modules(ROOT, "piadm_verify")}
    assert units <= set(LAYERS), sorted(units - set(LAYERS))


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_finds_a_cycle_an_upward_import_and_a_private_import(tmp_path):
    """Negative control: a package with exactly these three faults (the cycle through an import inside
    a function) must be reported for each, and its clean twin for none."""
    clean = {
        "analytic/__init__.py": "",
        "piadm_verify/__init__.py": "from .core import grid\n",
        "piadm_verify/core/__init__.py": "",
        "piadm_verify/core/grid.py": "def _helper():\n    pass\n",
        "piadm_verify/core/noise.py": "from .grid import _helper\n",
        "piadm_verify/samplers/__init__.py": "",
        "piadm_verify/samplers/sde.py": "from ..core import noise\n",
        "piadm_verify/oracle/__init__.py": "",
        "piadm_verify/oracle/law.py": "from ..core.grid import _helper\n",
    }
    _write(tmp_path / "clean", clean)
    faulty = {
        **clean,
        "piadm_verify/core/grid.py": "def _helper():\n    from ..samplers import sde\n",
        "piadm_verify/oracle/law.py": "from ..core.grid import _helper\nfrom ..samplers import sde\n",
    }
    _write(tmp_path / "faulty", faulty)
    problems = violations(tmp_path / "faulty")
    assert any(p.startswith("import cycle") for p in problems), problems
    assert ("piadm_verify.core.grid (core, layer 1) imports piadm_verify.samplers.sde (samplers, layer 2)"
            in problems), problems
    assert ("piadm_verify.oracle.law (oracle, layer 2) imports piadm_verify.samplers.sde (samplers, layer 2)"
            in problems), problems
    assert any("private name _helper" in p for p in problems), problems
    # the clean twin: the private import within core is fine, the one from oracle is not
    assert violations(tmp_path / "clean") == [
        "piadm_verify.oracle.law imports the private name _helper from piadm_verify.core.grid (another subpackage)"]
