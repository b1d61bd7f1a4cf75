"""Train the ladder of committed score networks of the learned-score study (docs/mathematics.md §14).

For each target of ``piadm_verify.studies.learned.LEARNED_TARGETS`` (``trimodal_1d``, ``separated_2d``,
``gaussian_10d``) and each budget of ``LADDER_STEPS`` (30, 100, 1000, 3000, 10 000 Adam steps), train a
small ε-network with :func:`piadm_verify.models.train_score` (width 32, depth 2, batch 256, lr 1e-2
with cosine decay, float32, the settings of ``TRAINING``; one seed per network), save it, load it
back in float64 (as the study will) and measure its δ₂ and δ_∞ with
:func:`piadm_verify.models.measure_delta` on the study's grid (``GRID``: T = 10, η = 1e-3, steps 0.2
then geometric, blocks of 8 steps) with ``--samples`` draws. Writes ``<target>-<steps>.pt`` and the
manifest ``networks.json`` (every network's δ₂, δ_∞, standard errors, training time and final
loss, the grid, the total time) into ``--out``.

Run from the repository root::

    python benchmarks/train_scores.py                     # all 15 networks into reports/networks/
    python benchmarks/train_scores.py --out /tmp/nets --steps 30 300

One torch thread (the networks are small; more threads only add contention). Training is
deterministic on the CPU given the seeds; the study and the tests read the committed files.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from piadm_verify.models import load_score, measure_delta, save_score, train_score
from piadm_verify.studies.learned import (GRID, LADDER_STEPS, LEARNED_TARGETS, MANIFEST, MANIFEST_FORMAT,
                                          NETWORKS_DIR, TRAINING, learned_grid, learned_target)
from piadm_verify.studies.mixture import derived_seed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=NETWORKS_DIR, help="output folder (default reports/networks)")
    parser.add_argument("--targets", nargs="+", default=list(LEARNED_TARGETS), choices=list(LEARNED_TARGETS))
    parser.add_argument("--steps", nargs="+", type=int, default=list(LADDER_STEPS), help="training budgets (Adam steps)")
    parser.add_argument("--samples", type=int, default=20000, help="Monte Carlo draws per δ measurement")
    parser.add_argument("--seed", type=int, default=0, help="master seed (training and measurement)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    grid = learned_grid()
    networks, start = [], time.perf_counter()
    training_seconds = 0.0
    for i, name in enumerate(args.targets):
        target = learned_target(name)
        for j, steps in enumerate(args.steps):
            seed = derived_seed(args.seed, i, j)
            began = time.perf_counter()
            net = train_score(target, steps=steps, generator=seed, **TRAINING)
            seconds = time.perf_counter() - began
            training_seconds += seconds
            file = f"{name}-{steps}.pt"
            save_score(net, args.out / file)
            loaded = load_score(args.out / file, dtype=torch.float64)
            d2 = measure_delta(loaded, target, grid, "L2", samples=args.samples, generator=derived_seed(args.seed, i, j, 1))
            di = measure_delta(loaded, target, grid, "Linf", samples=args.samples, generator=derived_seed(args.seed, i, j, 2))
            networks.append({"name": f"{name}-{steps}", "target": name, "file": file, "steps": steps,
                             "delta_l2": d2[0], "delta_l2_se": d2[1], "delta_linf": di[0], "delta_linf_se": di[1],
                             "seed": seed, "train_seconds": round(seconds, 2),
                             "final_loss": net.metadata["final_loss"]})
            print(f"{name:>13} {steps:>6} steps  {seconds:6.1f} s  δ₂ = {d2[0]:.4f} ± {d2[1]:.4f}  "
                  f"δ_∞ = {di[0]:.4f} ± {di[1]:.4f}", flush=True)
    total = time.perf_counter() - start
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "grid": GRID, "training": dict(TRAINING),
                "measurement": {"samples": args.samples, "estimator": "piadm_verify.models.measure_delta"},
                "seconds": {"training": round(training_seconds, 1), "total": round(total, 1)},
                "environment": {"torch": torch.__version__, "python": platform.python_version(), "threads": 1,
                                "machine": platform.machine()},
                "networks": networks}
    (args.out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(networks)} networks in {total:.1f} s (training {training_seconds:.1f} s) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
