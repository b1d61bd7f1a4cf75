"""Throughput of PIADM-SDE against the memory-bound floor of its inner scan.

What is measured, for each dimension d in ``--dims``:

* ``piadm_sde`` on a **diagonal-covariance** Gaussian target (exact score, elementwise; mean
  ``linspace(-1, 1, d)``, variances ``linspace(0.5, 2, d)``), uniform grid of ``--blocks`` blocks ×
  ``--steps`` (M) steps, ``--K`` Picard iterations, ``--samples`` (n) samples, one full call timed:
  - ``ms/round``: wall time / rounds (rounds = K · blocks);
  - ``piadm pts/s``: grid-point-samples per second, ``n · score_evals / time`` (= n·M·K·blocks / time),
    the score evaluation, noise draws, scan and checks all included;
* the **floor**: a bare ``torch.cumsum`` over a tensor of shape (M, n, d) followed by one fused
  multiply-add (``torch.addcmul``) — the two memory passes a round cannot avoid — timed alone:
  ``floor ms`` per round and ``floor pts/s = n · M / time``;
* ``ratio`` = piadm pts/s ÷ floor pts/s (1 would mean a round costs no more than that floor).

Each figure is the median of ``--repeats`` timed runs after ``--warmup`` untimed ones; on CUDA
``torch.cuda.synchronize()`` brackets every timed region. With ``--device cuda`` the script first
runs the parity core check on the GPU: ``piadm_sde`` with K ≥ max M_n against ``sequential_sde``
(same generator seed ⇒ same ζ) on a full-covariance target, in float64 (max |difference| printed,
must be ≤ 1e-10) and in float32 (≤ 1e-3); the exit status is 1 if a parity check fails.

Run::

    python benchmarks/bench_sde.py                               # CPU, d = 16 256 2048 (< 1 min)
    python benchmarks/bench_sde.py --device cuda --samples 1024 --steps 256 --dtype float32
    python benchmarks/bench_sde.py --json reports/bench_sde.json

Defaults (n = 64, M = 64, K = 4, 2 blocks) keep the largest working set (d = 2048: a few tensors of
M·n·d float64 = 64 MiB each) far below 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

try:
    import piadm_verify  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from analytic import Gaussian  # noqa: E402
from piadm_verify import TimeGrid, piadm_sde, sequential_sde  # noqa: E402

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(fn, device: torch.device, warmup: int, repeats: int, inner: int = 1) -> float:
    """Median over ``repeats`` of the wall time of ``inner`` calls of ``fn`` (divided by ``inner``)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        _sync(device)
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def _generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def parity_check(device: torch.device) -> dict:
    """piadm_sde (K ≥ max M_n) vs sequential_sde on ``device``, float64 and float32, full covariance."""
    d = 8
    g = torch.Generator().manual_seed(0)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    cov = a @ a.T / d + 0.3 * torch.eye(d, dtype=torch.float64)
    target = Gaussian(torch.randn(d, generator=g, dtype=torch.float64), cov, device=device)
    grid = TimeGrid.early_stopping(T=4.0, eta=1e-2, h=1.0, eps=0.1)
    out = {}
    for name, dtype, tol in (("float64", torch.float64, 1e-10), ("float32", torch.float32, 1e-3)):
        kw = dict(n=256, dim=d, dtype=dtype, device=device)
        par = piadm_sde(target, grid, K=grid.max_steps, generator=_generator(device, 1), **kw)
        seq = sequential_sde(target, grid, generator=_generator(device, 1), **kw)
        diff = (par.samples - seq.samples).abs().max().item()
        ok = (
            diff <= tol
            and par.samples.dtype == dtype
            and par.samples.device.type == device.type
            and bool(torch.isfinite(par.samples).all())
        )
        out[name] = {"max_abs_diff": diff, "tolerance": tol, "ok": ok}
        print(f"parity {name:7s} on {device}: K={grid.max_steps} ≥ max M_n, "
              f"max |piadm - sequential| = {diff:.3e} (tol {tol:g}) {'PASS' if ok else 'FAIL'}")
    return out


def bench_dim(d: int, args, device: torch.device, dtype: torch.dtype) -> dict:
    n, M, K, B = args.samples, args.steps, args.K, args.blocks
    target = Gaussian(
        torch.linspace(-1.0, 1.0, d, dtype=dtype), torch.linspace(0.5, 2.0, d, dtype=dtype), device=device
    )
    grid = TimeGrid.uniform(T=args.T, eta=args.eta, blocks=B, steps=M)
    gen = _generator(device, 0)
    result = {}

    def run_piadm():
        result["out"] = piadm_sde(target, grid, K=K, n=n, dim=d, generator=gen, dtype=dtype, device=device)

    t_call = _median_time(run_piadm, device, args.warmup, args.repeats)
    out = result["out"]
    assert out.rounds == K * B and out.score_evals == K * B * M
    t_round = t_call / out.rounds
    piadm_pts = n * out.score_evals / t_call

    x = torch.randn(M, n, d, generator=_generator(device, 1), dtype=dtype, device=device)
    base = torch.randn(n, d, generator=_generator(device, 2), dtype=dtype, device=device)
    grow = torch.exp(0.5 * torch.linspace(0.0, 1.0, M, dtype=dtype, device=device))[:, None, None]
    acc = torch.empty_like(x)
    res = torch.empty_like(x)

    def run_floor():
        torch.cumsum(x, dim=0, out=acc)
        torch.addcmul(base, grow, acc, out=res)

    # small tensors: time several calls per sample so the timer resolution does not dominate
    inner = max(1, min(50, int(2e6 // (M * n * d))))
    t_floor = _median_time(run_floor, device, args.warmup, args.repeats, inner)
    floor_pts = n * M / t_floor
    del x, acc, res
    return {
        "d": d,
        "n": n,
        "M": M,
        "K": K,
        "blocks": B,
        "rounds": out.rounds,
        "ms_per_round": 1e3 * t_round,
        "piadm_pts_per_s": piadm_pts,
        "floor_ms": 1e3 * t_floor,
        "floor_pts_per_s": floor_pts,
        "ratio": piadm_pts / floor_pts,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--dims", type=int, nargs="+", default=[16, 256, 2048])
    p.add_argument("--samples", type=int, default=64, help="n, samples per run (default 64)")
    p.add_argument("--steps", type=int, default=64, help="M, steps per block (default 64)")
    p.add_argument("--K", type=int, default=4, help="Picard iterations per block (default 4)")
    p.add_argument("--blocks", type=int, default=2, help="blocks of the uniform grid (default 2)")
    p.add_argument("--T", type=float, default=4.0, help="horizon T (default 4)")
    p.add_argument("--eta", type=float, default=1e-2, help="early stopping η (default 0.01)")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float64")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--no-parity", action="store_true", help="skip the CUDA parity check")
    p.add_argument("--json", metavar="PATH", help="also write the table (and parity results) as JSON")
    args = p.parse_args(argv)
    for name in ("samples", "steps", "K", "blocks", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if any(d < 1 for d in args.dims):
        p.error("--dims must be positive")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]

    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f", {torch.get_num_threads()} threads")
          + f", dtype {args.dtype}")
    parity = None
    if device.type == "cuda" and not args.no_parity:
        parity = parity_check(device)
    print(f"target: Gaussian, diagonal covariance; grid: uniform, {args.blocks} blocks x M={args.steps} steps; "
          f"K={args.K}; n={args.samples}; median of {args.repeats} after {args.warmup} warm-up")
    rows = []
    header = f"{'d':>6} {'rounds':>6} {'ms/round':>10} {'piadm pts/s':>12} {'floor ms':>10} {'floor pts/s':>12} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for d in args.dims:
        row = bench_dim(d, args, device, dtype)
        rows.append(row)
        print(f"{d:>6} {row['rounds']:>6} {row['ms_per_round']:>10.3f} {row['piadm_pts_per_s']:>12.3e} "
              f"{row['floor_ms']:>10.3f} {row['floor_pts_per_s']:>12.3e} {row['ratio']:>7.3f}")
    if args.json:
        payload = {
            "torch": torch.__version__,
            "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
            "threads": torch.get_num_threads(),
            "dtype": args.dtype,
            "target": "Gaussian, diagonal covariance",
            "grid": {"kind": "uniform", "T": args.T, "eta": args.eta, "blocks": args.blocks, "steps": args.steps},
            "K": args.K,
            "samples": args.samples,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "parity": parity,
            "rows": rows,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(payload, fh, indent=2)
        print(f"wrote {args.json}")
    if parity is not None and not all(v["ok"] for v in parity.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
