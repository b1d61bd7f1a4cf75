"""Plots of sweep tables for the reports (docs/mathematics.md §7).

Studies declare their plots as data (:class:`~piadm_verify.studies.base.Plot`: a kind and its
options); :func:`draw` looks the kind up in :data:`PLOTTERS`. Every drawing function has the shape::

    plot(tables, verdicts, out_dir, **options) -> list[str]

``tables`` maps table names to the :class:`~piadm_verify.verification.tables.Table` s of the run (all of them, so
that a plot can draw a sibling study's table: the rounds plot adds PIADM-ODE when an
``"ode_rounds"`` table is present), ``verdicts`` maps claim names to
:class:`~piadm_verify.reporting.suites.Verdict` s (the fitted slopes and their 95% intervals shown in the
legends come from there: a plot never fits anything itself), and the return value lists the PNG
files written into ``out_dir``. A plot whose table is absent writes nothing and returns ``[]``.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot, no global state) and
saved at 100 dpi, a few tens of kB each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from ..studies.head_to_head import FAMILY_NAMES
from ..verification.claims import mixture as mixture_claims
from ..verification.claims import sde as sde_claims
from ..verification.claims.base import ALPHA
from ..verification.claims.sde import FLAT_CONSTANT, PICARD_FLOOR, picard_plateau

__all__ = [
    "DPI",
    "PLOTTERS",
    "draw",
    "slope_label",
    "picard_plot",
    "loglog_plot",
    "path_plot",
    "horizon_plot",
    "rounds_plot",
    "work_precision_plot",
    "head_to_head_plot",
    "relaxation_plot",
    "mixture_fit_plot",
    "mixture_picard_plot",
    "mixture_delta_plot",
    "mixture_separation_plot",
    "learned_plot",
]

DPI = 100
PANEL = (5.2, 3.8)


def _figure(panels: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(PANEL[0] * panels, PANEL[1]), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
    return fig, axes


def _legend(ax, **options) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**options)


def _save(fig: Figure, out_dir: Path, filename: str) -> str:
    for ax in fig.axes:  # minor tick labels overprint each other on a log axis spanning over a decade
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() == "log" and max(limits) > 10 * min(limits):
                axis.set_minor_formatter(NullFormatter())
    # No "Software" stamp: the same data give byte-identical PNGs across matplotlib patch releases.
    fig.savefig(Path(out_dir) / filename, dpi=DPI, metadata={"Software": None})
    return filename


def _positive(x, y):
    """The points that a logarithmic y axis can show (finite and > 0)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(y) & (y > 0) & np.isfinite(x)
    return x[keep], y[keep]


def slope_label(verdict, what: str = "slope") -> str:
    """``"slope 2.000 (exact)"`` or ``"slope 2.003 ± 0.006 (95% CI)"`` from a verdict; ``""`` if absent."""
    if verdict is None or not math.isfinite(verdict.check.estimate):
        return ""
    estimate = verdict.check.estimate
    if verdict.exact:
        return f"{what} {estimate:.3f} (exact)"
    low, high = verdict.ci95
    return f"{what} {estimate:.3f} ± {(high - low) / 2:.3f} (95% CI)"


def _reference(ax, x, y, slope: float, *, log_x: bool, label: str, anchor: str = "max") -> None:
    """A dashed line of the theory's slope through the data point at the largest (or smallest) x."""
    x, y = _positive(x, y)
    if x.size == 0:
        return
    i = int(np.argmax(x) if anchor == "max" else np.argmin(x))
    grid = np.linspace(x.min(), x.max(), 50) if not log_x else np.geomspace(x.min(), x.max(), 50)
    line = y[i] * ((grid / x[i]) ** slope if log_x else np.exp(slope * (grid - x[i])))
    ax.plot(grid, line, "--", color="0.35", linewidth=1.2, label=label)


# -- K -------------------------------------------------------------------------------------------------------
def picard_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, theory_rate: float = -1.0,
                filename: str = "picard.png") -> list[str]:
    """Semi-log Picard distance KL(sequential ‖ K-iterate) against K, one curve per block length h,
    with the plateau's end marked and a dashed line of the theory's rate e^{rate·K}; right: KL(p_η ‖ ·)."""
    table = tables.get("picard")
    if table is None:
        return []
    fig, (left, right) = _figure(2)
    for h in sorted(set(table.column("h"))):
        rows = table.where(h=h)
        K, dist = rows.column("K"), rows.column("distance")
        label = f"h = {h:g}"
        fitted = slope_label(verdicts.get(sde_claims.PICARD_GEOMETRIC.named(h=h)), "rate")
        if fitted:
            label += f", {fitted}"
        x, y = _positive(K, np.where(dist > PICARD_FLOOR, dist, np.nan))
        (line,) = left.semilogy(x, y, "o-", markersize=3, label=label)
        end = picard_plateau(K, dist)
        if end is not None and float(h) == sde_claims.PICARD_GEOMETRIC_H:
            y_end = dist[K == end][0]
            left.axvline(end, color=line.get_color(), linestyle=":", linewidth=1)
            _reference(left, K[K >= end], dist[K >= end], theory_rate, log_x=False, anchor="min",
                       label=f"theory: rate {theory_rate:g} per iteration, from the plateau's end")
            left.plot([end], [y_end], "s", color=line.get_color(), markersize=6)
        right.semilogy(*_positive(K, rows.column("kl")), "o-", markersize=3, label=f"h = {h:g}")
    left.set(xlabel="Picard iterations K", ylabel="KL(sequential law ‖ K-iterate law)",
             title="Picard distance (dotted: plateau's end)")
    right.set(xlabel="Picard iterations K", ylabel="KL(p_η ‖ K-iterate law)", title="Error to the target")
    _legend(left, fontsize=7)
    _legend(right, fontsize=7)
    return [_save(fig, out_dir, filename)]


# -- power laws: δ, ε, d ------------------------------------------------------------------------------------
def loglog_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, table: str, x: str, y: str, filename: str,
                theory_slope: float, theory_label: str, claims: Mapping | str | None = None, group: str | None = None,
                xlabel: str | None = None, ylabel: str | None = None, title: str = "",
                bound: tuple[float, float, str] | None = None) -> list[str]:
    """Log-log ``y`` against ``x`` (one curve per value of ``group``), the fitted slope ± CI of the
    group's claim in the legend and a dashed line at the theory's slope through the largest-x point
    of each curve. ``claims``: a claim name (a template such as ``"delta_quadratic_{kind}"`` is filled
    with the group's value) or a mapping group value (None without groups) → claim name. ``bound``
    ``(coefficient, power, label)`` adds the dotted curve ``coefficient·x^power``."""
    data = tables.get(table)
    if data is None:
        return []
    claims = claims or {}
    fig, (ax,) = _figure(1)
    groups = list(dict.fromkeys(data.column(group))) if group else [None]
    for i, value in enumerate(groups):
        rows = data.where(**{group: value}) if group else data
        xs, ys = _positive(rows.column(x), rows.column(y))
        name = "" if value is None else f"{value}"
        claim = claims.format(**({group: value} if group else {})) if isinstance(claims, str) else claims.get(value, "")
        fitted = slope_label(verdicts.get(claim))
        label = ", ".join(part for part in (name, fitted) if part) or y
        (line,) = ax.loglog(xs, ys, "o-", markersize=4, label=label)
        _reference(ax, xs, ys, theory_slope, log_x=True, label=theory_label if i == 0 else None)
    if bound is not None:
        coefficient, power, label = bound
        xs = np.geomspace(data.column(x).min(), data.column(x).max(), 50)
        ax.loglog(xs, coefficient * xs**power, ":", color="firebrick", label=label)
    ax.set(xlabel=xlabel or x, ylabel=ylabel or y, title=title)
    _legend(ax, fontsize=7)
    return [_save(fig, out_dir, filename)]


def path_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, theory_slope: float = 2.0,
              claim: str = sde_claims.PATH_QUADRATIC.name, filename: str = "path.png") -> list[str]:
    """Monte Carlo: the mean-square path difference against δ, one faint line per replicate, their
    geometric mean, the cluster-robust slope ± 95% CI and a dashed line at the theory's slope."""
    data = tables.get("path")
    if data is None:
        return []
    fig, (ax,) = _figure(1)
    for r in sorted(set(data.column("replicate"))):
        rows = data.where(replicate=r)
        ax.loglog(*_positive(rows.column("delta"), rows.column("msd")), "-", color="0.7", linewidth=0.8,
                  label="replicates" if r == 0 else None)
    deltas = np.array(sorted(set(data.column("delta"))))
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.array([np.exp(np.mean(np.log(data.where(delta=d).column("msd")))) for d in deltas])
    ax.loglog(*_positive(deltas, means), "o-", color="C0",
              label="geometric mean" + (f", {slope_label(verdicts.get(claim))}" if verdicts.get(claim) else ""))
    _reference(ax, deltas, means, theory_slope, log_x=True, label=f"theory: slope {theory_slope:g}")
    ax.set(xlabel="calibrated δ₂ (fourier error)", ylabel="mean ‖X_δ − X_0‖² (common noise)",
           title="Pathwise effect of a non-affine score error")
    _legend(ax, fontsize=7)
    return [_save(fig, out_dir, filename)]


# -- T ---------------------------------------------------------------------------------------------------
def horizon_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, theory_rate: float = -1.0,
                 claim: str = sde_claims.HORIZON_DECAY.name, filename: str = "horizon.png") -> list[str]:
    """Semi-log KL(p_η ‖ q̂_T) and the initialisation term KL(T) − KL(T_max) against T, with the
    discretisation floor KL(T_max) and a dashed line at the theory's rate e^{-T}."""
    data = tables.get("horizon")
    if data is None:
        return []
    T, kl = data.column("T"), data.column("kl")
    floor = kl[np.argmax(T)]
    excess = kl - floor
    window = excess > floor
    fig, (ax,) = _figure(1)
    ax.semilogy(*_positive(T, kl), "o-", markersize=4, label="KL(p_η ‖ q̂_T)")
    fitted = slope_label(verdicts.get(claim), "rate")
    ax.semilogy(*_positive(T, excess), "s-", markersize=4,
                label="KL(T) − KL(T_max)" + (f", {fitted}" if fitted else ""))
    ax.axhline(floor, color="0.5", linestyle=":", linewidth=1, label="floor KL(T_max)")
    if window.any():
        _reference(ax, T[window], excess[window], theory_rate, log_x=False, anchor="min",
                   label=f"theory: rate {theory_rate:g} per unit T")
    ax.set(xlabel="horizon T", ylabel="KL", title="Initialisation term (fitted where above the floor)")
    _legend(ax, fontsize=7)
    return [_save(fig, out_dir, filename)]


def relaxation_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, filename: str = "relaxation.png") -> list[str]:
    """Semi-log TV(p_{s*}, law of x) against corrector time, from a deliberately mis-scaled start."""
    data = tables.get("relaxation")
    if data is None:
        return []
    fig, (ax,) = _figure(1)
    ax.semilogy(*_positive(data.column("time"), data.column("tv")), "o-", markersize=4, label="TV(p_{s*}, x)")
    ax.set(xlabel="corrector time N†·h†", ylabel="TV", title="The corrector relaxes towards p_{s*}")
    _legend(ax, fontsize=7)
    return [_save(fig, out_dir, filename)]


# -- rounds and space ----------------------------------------------------------------------------------------
def rounds_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, flat_constant: float = FLAT_CONSTANT,
                claim: str = sde_claims.ROUNDS_LOG_GROWTH.name, filename: str = "rounds.png") -> list[str]:
    """Under the theorems' presets, against d: rounds (PIADM-SDE ``K*·N`` and at the preset K, the
    sequential sampler's ``N·M``), space (PIADM ``d·M``; the sequential sampler holds one point, ``d``)
    and the error at the preset K against ``C·δ²``. PIADM-ODE's rounds and space (and its sequential
    reference's steps, if given) are added when an ``"ode_rounds"`` table (columns ``d``, ``rounds``,
    ``space``, optionally ``sequential_steps``) is among ``tables``."""
    data = tables.get("rounds")
    ode = tables.get("ode_rounds")
    if data is None and ode is None:
        return []
    fig, (rounds, space, error) = _figure(3)
    if data is not None:
        d = data.column("d")
        fitted = slope_label(verdicts.get(claim), "b")
        rounds.loglog(d, data.column("rounds"), "o-", markersize=4,
                      label="PIADM-SDE K*·N" + (f" (K* = a + b log d, {fitted})" if fitted else ""))
        rounds.loglog(d, data.column("K") * data.column("N"), "^--", markersize=4, label="PIADM-SDE preset K·N")
        rounds.loglog(d, data.column("sequential_steps"), "s-", markersize=4, label="sequential N·M")
        space.loglog(d, data.column("space"), "o-", markersize=4, label="PIADM-SDE d·M")
        space.loglog(d, d, "s-", markersize=4, label="sequential d·1")
        delta = data.settings.get("delta")
        error.loglog(*_positive(d, data.column("kl_preset")), "o-", markersize=4, label="PIADM-SDE, preset K")
        error.loglog(*_positive(d, data.column("kl_sequential")), "s-", markersize=4, label="sequential")
        if delta is not None:
            error.axhline(flat_constant * delta**2, color="firebrick", linestyle=":",
                          label=f"{flat_constant:g}·δ² (δ = {delta:g})")
    if ode is not None:
        d = ode.column("d")
        rounds.loglog(d, ode.column("rounds"), "D-", markersize=4, label="PIADM-ODE rounds")
        if "sequential_steps" in ode.columns:
            rounds.loglog(d, ode.column("sequential_steps"), "D:", markersize=4, label="sequential ODE steps")
        space.loglog(d, ode.column("space"), "D-", markersize=4, label="PIADM-ODE d·(M ∨ M†)")
    rounds.set(xlabel="dimension d", ylabel="rounds (sequential score calls)", title="Time")
    space.set(xlabel="dimension d", ylabel="numbers held in one round", title="Space")
    error.set(xlabel="dimension d", ylabel="KL(p_η ‖ q̂)", title="Error under the presets")
    for ax in (rounds, space, error):
        _legend(ax, fontsize=7)
    return [_save(fig, out_dir, filename)]


def work_precision_plot(tables: Mapping, verdicts: Mapping, out_dir: Path,
                        filename: str = "work_precision.png") -> list[str]:
    """KL(p_η ‖ output) against rounds and against total score evaluations per sample: PIADM-SDE at
    K = 1, 2, … (one curve per δ, the preset's K starred) and the sequential sampler (squares)."""
    data = tables.get("work_precision")
    if data is None:
        return []
    fig, axes = _figure(2)
    piadm, sequential = data.where(sampler="piadm"), data.where(sampler="sequential")
    for i, delta in enumerate(dict.fromkeys(data.column("delta"))):
        color = f"C{i % 10}"
        rows, ref = piadm.where(delta=delta), sequential.where(delta=delta)
        preset = rows.where(K=rows.column("preset_K")[0])
        for ax, cost in zip(axes, ("rounds", "score_evals")):
            ax.loglog(*_positive(rows.column(cost), rows.column("kl")), "o-", color=color, markersize=3,
                      label=f"PIADM-SDE δ = {delta:g}")
            ax.loglog(*_positive(preset.column(cost), preset.column("kl")), "*", color=color, markersize=11)
            ax.loglog(*_positive(ref.column(cost), ref.column("kl")), "s", color=color, markersize=7,
                      markerfacecolor="none", label=f"sequential δ = {delta:g}")
    axes[0].set(xlabel="rounds (PIADM K·N, sequential N·M)", ylabel="KL(p_η ‖ output law)",
                title="Error against time (★: preset K)")
    axes[1].set(xlabel="score evaluations per sample (PIADM K·N·M, sequential N·M)", ylabel="KL(p_η ‖ output law)",
                title="Error against total work")
    _legend(axes[0], fontsize=6, ncol=2)
    return [_save(fig, out_dir, filename)]


# -- head to head -----------------------------------------------------------------------------------------
_FAMILY_STYLE = {  # colour, markers (one per window or memory)
    "sequential": ("0.2", "s"), "sequential_ode": ("0.2", "s"), "sequential_ode_corrector": ("0.55", "s"),
    "piadm": ("C0", "o"), "piadm_ode": ("C0", "o"), "piadm_ode_corrector": ("C9", "o"),
    "piadm_preset": ("C0", "*"), "piadm_ode_preset": ("C9", "*"), "piadm_theorem": ("C0", "P"),
    "piadm_adaptive": ("C4", "D"), "piadm_ode_adaptive": ("C4", "D"),
    "paradigms_fixed": ("C2", "^v>"), "paradigms": ("C1", "^v>"), "parataa": ("C3", "<ph"),
}


def _curves(rows):
    """The curves of one (target, d, grid) panel: (family, label, marker, rows) per family and window
    (ParaDiGMS) or memory (ParaTAA)."""
    for family in dict.fromkeys(rows.column("family")):
        mine = rows.where(family=family)
        markers = _FAMILY_STYLE.get(family, ("k", "x"))[1]
        column = {"paradigms_fixed": "window", "paradigms": "window", "parataa": "memory"}.get(family)
        if column is None:
            yield family, FAMILY_NAMES.get(family, family), markers[0], mine
            continue
        short = "p" if column == "window" else "m"
        for i, value in enumerate(sorted(dict.fromkeys(mine.column(column)))):
            yield (family, f"{FAMILY_NAMES.get(family, family)}, {short} = {int(value)}", markers[i % len(markers)],
                   mine.where(**{column: value}))


def head_to_head_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, table: str, dims=None,
                      group: str | None = "delta", threshold: bool = True, path_panel: bool = False,
                      filename_prefix: str | None = None) -> list[str]:
    """Work and precision of every sampler family of a head-to-head table (:mod:`piadm_verify.studies.head_to_head`):
    one figure per (target, d), the error against sequential rounds (left) and against score
    evaluations per sample (right), one line style per ``group`` value (δ: solid, then dashed) and a
    red line at the target δ^power in the same style (``threshold``). Monte Carlo points carry their
    95% intervals; each family's curve runs over its configurations (K, strides, tolerances) in
    order of rounds. ``dims`` restricts the figures to those dimensions; ``path_panel`` adds a third
    panel, the RMS pathwise distance to the sequential chain (common noise) against rounds."""
    data = tables.get(table)
    if data is None:
        return []
    work = data.where(part="work")
    power = float(data.settings.get("power", 2.0))
    styles = ("-", "--", ":", "-.")
    files = []
    for target in dict.fromkeys(work.column("target")):
        for d in dict.fromkeys(work.where(target=target).column("d")):
            if dims is not None and d not in dims:
                continue
            rows = work.where(target=target, d=d)
            fig, axes = _figure(3 if path_panel else 2)
            fig.set_size_inches(PANEL[0] * (3.9 if path_panel else 2.9), PANEL[1] * 1.2)
            values = list(dict.fromkeys(rows.column(group))) if group else [None]
            for i, value in enumerate(values):
                panel = rows.where(**{group: value}) if group else rows
                style = styles[i % len(styles)]
                for family, label, marker, curve in _curves(panel):
                    colour = _FAMILY_STYLE.get(family, ("k", "x"))[0]
                    order = np.argsort(curve.column("rounds").astype(float), kind="stable")
                    for ax, cost, column in zip(axes, ("rounds", "score_evals", "rounds"),
                                                ("error", "error", "path_rms")):
                        x = curve.column(cost).astype(float)[order]
                        y = curve.column(column).astype(float)[order]
                        keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
                        if not keep.any():
                            continue
                        ax.loglog(x[keep], y[keep], marker=marker, linestyle=style if keep.sum() > 1 else "none",
                                  color=colour, markersize=8 if marker in "*P" else 4, linewidth=1,
                                  label=label if (ax is axes[0] and i == 0) else None)
                        if column == "error" and (curve.column("method") == "monte_carlo").any():
                            low = curve.column("error_low").astype(float)[order][keep]
                            high = curve.column("error_high").astype(float)[order][keep]
                            below = np.where(low > 0, np.clip(y[keep] - low, 0.0, None), 0.9 * y[keep])
                            ax.errorbar(x[keep], y[keep], yerr=[below, np.clip(high - y[keep], 0.0, None)],
                                        fmt="none", ecolor=colour, elinewidth=0.8, capsize=2)
                if threshold and group == "delta":
                    for ax in axes[:2]:
                        ax.axhline(float(value) ** power, color="firebrick", linestyle=style, linewidth=0.8, alpha=0.7)
            error = data.settings.get("error", "error")
            legend = ""
            if group == "delta":
                legend = ", ".join(f"{styles[i % len(styles)]} δ = {v:g}" for i, v in enumerate(values))
                legend = f"\nlines: {legend}" + (f"; red: the target δ^{power:g}" if threshold else "")
            axes[0].set(xlabel="sequential rounds (batched score calls)", ylabel=error,
                        title=f"{target}, d = {d}: error against time{legend}")
            axes[1].set(xlabel="score evaluations per sample", ylabel=error, title="error against total work")
            if path_panel:
                axes[2].set(xlabel="sequential rounds (batched score calls)", ylabel="RMS ‖x − x_seq‖ (common noise)",
                            title="distance to the sequential chain")
            fig.legend(fontsize=7, loc="outside right upper")
            files.append(_save(fig, out_dir, f"{filename_prefix or table}_{target}_d{d}.png"))
    return files


# -- Gaussian mixtures (Monte Carlo) ----------------------------------------------------------------------
def _replicate_means(rows, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct x values and the mean of y over the replicates at each (NaN where y is not finite)."""
    xs = np.array(sorted(set(rows.column(x))), dtype=float)
    values = rows.column(y).astype(float)
    with np.errstate(invalid="ignore"):
        means = np.array([np.mean(values[rows.column(x) == v]) for v in xs])
    return xs, means


def mixture_fit_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, alpha: float = ALPHA,
                     filename: str = "mixture_fit.png") -> list[str]:
    """Tests of fit against p_η: the p-value of every (target, sampler, test) on a log axis, with the
    level α below which a check fails."""
    data = tables.get("mixture_fit")
    if data is None:
        return []
    fig, (ax,) = _figure(1)
    fig.set_size_inches(PANEL[0] * 1.6, PANEL[1])
    targets = list(dict.fromkeys(data.column("target")))
    markers = {"ks": "o", "cvm": "s", "mode_weight": "^"}
    offsets = {"sde": -0.15, "ode": 0.15}
    for (sampler, test), colour in zip([(s, t) for s in offsets for t in markers], [f"C{i}" for i in range(6)]):
        rows = data.where(sampler=sampler, test=test)
        if not len(rows.column("target")):
            continue
        xs = np.array([targets.index(t) for t in rows.column("target")]) + offsets[sampler]
        ax.semilogy(xs, np.maximum(rows.column("p_value").astype(float), 1e-300), markers[test], color=colour,
                    label=f"PIADM-{sampler.upper()}, {test}")
    ax.axhline(alpha, color="firebrick", linestyle=":", label=f"α = {alpha:g}")
    ax.set_xticks(range(len(targets)))
    ax.set_xticklabels(targets, fontsize=8)
    ax.set(ylabel="p-value (H0: samples ~ p_η)", title="Tests of fit against the exact mixture marginal p_η")
    _legend(ax, fontsize=6, ncol=2)
    return [_save(fig, out_dir, filename)]


def mixture_picard_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *,
                        filename: str = "mixture_picard.png") -> list[str]:
    """Left: the Girsanov path quantity against K (replicate mean, the claim's fitted rate in the
    legend, a dashed e^{-K} line); right: the bias-corrected histogram KL(p_η ‖ q̂_K) with ±2 SE bars."""
    data = tables.get("mixture_picard")
    if data is None:
        return []
    fig, (left, right) = _figure(2)
    for target in dict.fromkeys(data.column("target")):
        rows = data.where(target=target)
        K, mean = _replicate_means(rows, "K", "path_kl")
        fitted = slope_label(verdicts.get(mixture_claims.MIXTURE_PICARD_DECAY.named(target=target)), "rate")
        (line,) = left.semilogy(*_positive(K, mean), "o-", markersize=3,
                                label=target + (f", {fitted}" if fitted else ""))
        _reference(left, K, mean, -1.0, log_x=False, anchor="min", label=None)
        kl = rows.column("hist_kl").astype(float)
        if np.isfinite(kl).any():
            _, kl_mean = _replicate_means(rows, "K", "hist_kl")
            counts = np.array([np.sum(rows.column("K") == k) for k in K])
            sds = np.array([np.std(kl[rows.column("K") == k], ddof=1) if c > 1 else 0.0 for k, c in zip(K, counts)])
            right.errorbar(K, kl_mean, yerr=2 * sds / np.sqrt(counts), fmt="o-", markersize=3, capsize=2,
                           color=line.get_color(), label=target)
    left.plot([], [], "--", color="0.35", label="theory: rate −1 per iteration")
    right.axhline(0.0, color="0.5", linewidth=0.8)
    left.set(xlabel="Picard iterations K", ylabel="path quantity (replicate mean)",
             title="Girsanov path quantity, exact score")
    right.set(xlabel="Picard iterations K", ylabel="histogram KL(p_η ‖ q̂_K), bias-corrected",
              title="Histogram KL to p_η (±2 SE)")
    _legend(left, fontsize=7)
    _legend(right, fontsize=7)
    return [_save(fig, out_dir, filename)]


def mixture_delta_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, table: str = "mixture_delta",
                       columns: tuple = ("path_kl", "msd"), filename: str = "mixture_delta.png") -> list[str]:
    """Log-log panels (one per column) of a δ sweep: replicate means per target, the fitted slope
    ± 95% CI of the column's claim for the target in the legend, and a dashed slope-2 line through
    each curve's largest δ."""
    data = tables.get(table)
    if data is None:
        return []
    claim_of = {"path_kl": mixture_claims.MIXTURE_PATH_KL_QUADRATIC, "msd": mixture_claims.MIXTURE_MSD_QUADRATIC,
                "hist_excess": mixture_claims.MIXTURE_HIST_EXCESS_QUADRATIC}
    labels = {"path_kl": "path quantity ½Σε‖e‖²", "msd": "mean ‖X_δ − X_0‖² (common noise)",
              "hist_excess": "histogram KL excess over δ = 0"}
    fig, axes = _figure(len(columns))
    for ax, column in zip(axes, columns):
        for i, target in enumerate(dict.fromkeys(data.column("target"))):
            rows = data.where(target=target)
            deltas, means = _replicate_means(rows, "delta", column)
            xs, ys = _positive(deltas, means)
            if not xs.size:
                continue
            claim = claim_of.get(column)
            fitted = slope_label(verdicts.get(claim.named(target=target))) if claim else ""
            ax.loglog(xs, ys, "o-", markersize=4, label=target + (f", {fitted}" if fitted else ""))
            _reference(ax, xs, ys, 2.0, log_x=True, label="slope 2" if i == 0 else None)
        ax.set(xlabel="calibrated δ₂ (fourier error)", ylabel=labels.get(column, column), title=labels.get(column, column))
        _legend(ax, fontsize=6)
    return [_save(fig, out_dir, filename)]


def mixture_separation_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *,
                            filename: str = "mixture_separation.png") -> list[str]:
    """Left: K* per replicate and its mean against the mode separation, with the score's Lipschitz
    bound at s = η on a second axis; right: the distance to the sequential output against K
    (first replicate, one curve per separation)."""
    data = tables.get("mixture_separation")
    if data is None:
        return []
    fig, (left, right) = _figure(2)
    first = data.where(K=1)
    sep, k_star = first.column("separation").astype(float), first.column("k_star").astype(float)
    left.plot(sep, k_star, "o", color="0.6", markersize=3, label="K* per replicate")
    xs, means = _replicate_means(first, "separation", "k_star")
    left.plot(xs, means, "o-", color="C0", label="K* (replicate mean)")
    left.set_xscale("log")
    left.set_xticks(xs)
    left.set_xticklabels([f"{x:g}" for x in xs])
    left.xaxis.set_minor_formatter(NullFormatter())
    left.set(xlabel="mode separation / σ", ylabel="least Picard count K*", title="K* against separation")
    twin = left.twinx()
    _, lipschitz = _replicate_means(first, "separation", "lipschitz")
    twin.semilogy(xs, lipschitz, "s--", color="firebrick", markersize=3, label="Lipschitz bound L(η)")
    twin.set_ylabel("Lipschitz bound of the score at s = η", color="firebrick")
    handles = left.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    left.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=7, loc="upper left")
    rows = data.where(replicate=min(data.column("replicate")))
    for s in dict.fromkeys(rows.column("separation")):
        r = rows.where(separation=s)
        right.semilogy(*_positive(r.column("K"), r.column("distance")), "o-", markersize=3, label=f"{s:g}σ")
    tolerance = data.settings.get("tolerance")
    if tolerance is not None:
        right.axhline(tolerance, color="0.5", linestyle=":", label=f"tolerance {tolerance:g}")
    right.set(xlabel="Picard iterations K (last point: K = M)", ylabel="‖X^(K) − X^seq‖² / tr Cov(p_η)",
              title="Distance to the sequential output (same noise)")
    _legend(right, fontsize=7)
    return [_save(fig, out_dir, filename)]


# -- learned scores ---------------------------------------------------------------------------------------
def learned_plot(tables: Mapping, verdicts: Mapping, out_dir: Path, *, table: str = "learned",
                 filename: str = "learned.png") -> list[str]:
    """Trained networks of measured δ (one colour per target). Left: the PIADM-SDE output error over
    the exact score's (sequential ○, theorem's K △, K* □, adaptive ▽; ±2 SE bars) against ½δ₂², with
    the bound ½δ₂² + init dashed, and diffusers' DDPM (+) and DDIM (×) with the same networks where
    the table has them (on their own schedules: shown, not bounded); values at or below 0 sit on the
    lower edge, hollow. Middle: the Girsanov path
    quantity against ½δ₂², equality dotted and the claim's band (a factor 4, where ½δ₂² ≤ 0.25)
    shaded. Right: PIADM-ODE's TV excess against δ_∞ with the theorem's (T² + N²)^{1/2}δ_∞ dashed."""
    data = tables.get(table)
    if data is None:
        return []
    fig, (left, middle, right) = _figure(3)
    markers = {"sequential": "o", "piadm_theorem": "^", "piadm_k_star": "s", "piadm_adaptive": "v", "piadm_ode": "D",
               "diffusers_ddpm": "P", "diffusers_ddim": "X"}
    half = 0.5 * data.column("delta2").astype(float) ** 2
    error = data.column("error").astype(float)
    positive = error[np.isfinite(error) & (error > 0)]
    edge = 0.3 * positive.min() if positive.size else 1e-4
    for i, target in enumerate(dict.fromkeys(data.column("target"))):
        colour = f"C{i % 10}"
        for sampler, marker in markers.items():
            rows = data.where(target=target, sampler=sampler)
            if not len(rows):
                continue
            x = (0.5 * rows.column("delta2").astype(float) ** 2 if sampler != "piadm_ode"
                 else rows.column("delta_inf").astype(float))
            y, se = rows.column("error").astype(float), rows.column("error_se").astype(float)
            ax = right if sampler == "piadm_ode" else left
            above = np.isfinite(y) & (y > 0)
            bars = np.vstack([np.minimum(2 * se[above], 0.99 * y[above]), 2 * se[above]])
            ax.errorbar(x[above], y[above], yerr=bars, fmt=marker, color=colour,
                        markersize=4, capsize=2, linewidth=0.8,
                        label=target if sampler == "sequential" else None)
            ax.plot(x[~above], np.full((~above).sum(), edge), marker, color=colour, markerfacecolor="none", markersize=4)
        rows = data.where(target=target, sampler="sequential")
        middle.loglog(*_positive(0.5 * rows.column("delta2").astype(float) ** 2, rows.column("path_kl")), "o", color=colour,
                      markersize=4, label=target)
    for ax in (left, middle):
        ax.set_xscale("log")
        ax.set_yscale("log")
    grid_x = np.geomspace(max(half.min(), 1e-6), half.max(), 50)
    init = float(np.max(data.column("init").astype(float)))
    left.plot(grid_x, grid_x + init, "--", color="0.35", label="bound ½δ₂² + init")
    external = np.isin(data.column("sampler"), ["diffusers_ddpm", "diffusers_ddim"]).any()
    left.set(xlabel="½δ₂² (committed)", ylabel="KL(p_η ‖ q̂_θ) − KL(p_η ‖ q̂_exact) (10-d: projections)",
             title="PIADM-SDE: ○ sequential, △ theorem's K, □ K*, ▽ adaptive"
                   + ("\ndiffusers with the same networks: + DDPM, × DDIM" if external else ""))
    middle.plot(grid_x, grid_x, ":", color="0.35", label="path quantity = ½δ₂²")
    regime = grid_x[grid_x <= 0.25]
    if regime.size:
        middle.fill_between(regime, regime / 4, regime * 4, color="0.85", label="claimed band (×4)")
    middle.set(xlabel="½δ₂² (committed)", ylabel="½Σε‖s_θ − ∇log p‖² along the sampler's paths",
               title="Girsanov path quantity (sequential)")
    ode = data.where(sampler="piadm_ode")
    if len(ode):
        delta_inf = ode.column("delta_inf").astype(float)
        factor = float(np.median(ode.column("bound").astype(float) / delta_inf))
        xs = np.geomspace(delta_inf.min(), delta_inf.max(), 50)
        right.plot(xs, factor * xs, "--", color="0.35", label=f"bound {factor:.3g}·δ_∞ ((T² + N²)^½)")
        right.set_xscale("log")
        right.set_yscale("log")
    right.set(xlabel="δ_∞ (committed)", ylabel="TV(p_η, q̂_θ) − TV(p_η, q̂_exact)", title="PIADM-ODE at K*")
    for ax in (left, middle, right):
        _legend(ax, fontsize=6)
    return [_save(fig, out_dir, filename)]


PLOTTERS = {
    "picard": picard_plot,
    "loglog": loglog_plot,
    "path": path_plot,
    "horizon": horizon_plot,
    "relaxation": relaxation_plot,
    "rounds": rounds_plot,
    "work_precision": work_precision_plot,
    "head_to_head": head_to_head_plot,
    "mixture_fit": mixture_fit_plot,
    "mixture_picard": mixture_picard_plot,
    "mixture_delta": mixture_delta_plot,
    "mixture_separation": mixture_separation_plot,
    "learned": learned_plot,
}


def draw(plot, tables: Mapping, verdicts: Mapping, out_dir: Path) -> list[str]:
    """Draw a declared :class:`~piadm_verify.studies.base.Plot` (its ``kind`` in :data:`PLOTTERS`)."""
    if plot.kind not in PLOTTERS:
        raise ValueError(f"unknown plot kind {plot.kind!r}; known: {sorted(PLOTTERS)}")
    return PLOTTERS[plot.kind](tables, verdicts, out_dir, **plot.options)
