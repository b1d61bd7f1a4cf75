"""Wall-clock time of the parallel samplers against the sequential one, at equal accuracy, with an MLP score.

What is measured, for each d in ``--dims`` (default 64 and 1024):

* **The score**: a random MLP of stated width and depth (``--width``, ``--depth``; tanh; input
  ``(x, s)``, output d) added to the exact score of a diagonal Gaussian target (mean
  ``linspace(-1, 1, d)``, variances ``linspace(0.5, 2, d)``), its output layer scaled so that the
  perturbation's RMS per coordinate at the start of the backward process is ``--perturbation``. So
  every score call costs a real network's forward pass (two or more dense layers over d), and the
  samplers see a non-affine score, as with a trained network. Its weights come from a seeded generator.
* **The grid**: the PIADM-SDE theorem's horizon T, its N blocks (``h = 1``) and its preset K for
  ``(d, --delta)`` (``core.presets.sde_preset``), with ``--steps`` (M) steps per block instead of the
  theorem's M (which grows as d/δ²; the comparison is between samplers on one grid).
* **Accuracy**: every sampler is driven by the same ``StepNoise`` (seed ``--seed``), so all of them
  approximate the one sequential chain on that grid: the error of a run is its relative distance
  ``‖X − X_seq‖_F / ‖X_seq‖_F`` to the sequential sampler's output (the discretisation error is
  common to all and left out). "Equal accuracy" is a distance ≤ ``--accuracy`` (τ).
* **Samplers**: the sequential exponential integrator; PIADM-SDE with the theorem's preset K (its
  distance is printed, whether or not it meets τ) and with K*, the smallest K that meets τ; adaptive
  PIADM and ParaDiGMS (window M) with the largest tolerance of ``--tols`` that meets τ.
* **Figures**: milliseconds per sample (median of ``--repeats`` runs ÷ n), sequential rounds (batched
  score calls), score evaluations per sample, and the peak memory of the run: on CUDA
  ``torch.cuda.max_memory_allocated`` after a reset; on Linux CPUs the growth of the process's peak
  resident set (``VmHWM``, reset through ``/proc/self/clear_refs`` before each run; glibc is told to
  map every block ≥ 128 KiB on its own and to trim, so freed tensors leave the resident set and the
  growth is the run's peak of live memory); "n/a" where neither is available.

With ``--device cuda`` this is the project's one prepared GPU script: it first runs
``tests/test_cuda.py`` (pytest, on the GPU) and the parity check of ``bench_sde.py`` (``piadm_sde``
with K ≥ M against ``sequential_sde``, float64 and float32), then the timings, and writes everything
to ``--json`` (default ``bench_wallclock.json`` under ``$OUT`` when set). Exit status 1 if the CUDA
tests or a parity check fail.

Run::

    python benchmarks/bench_wallclock.py                         # CPU, d = 64 and 1024 (< 3 min)
    python benchmarks/bench_wallclock.py --device cuda --samples 1024 --json $OUT/wallclock.json
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import time

import torch

try:
    import piadm_verify  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from analytic import Gaussian  # noqa: E402
from piadm_verify import StepNoise, TimeGrid, paradigms, piadm_sde, sde_preset, sequential_sde  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"float64": torch.float64, "float32": torch.float32}


class MLPScore(torch.nn.Module):
    """``∇log p_s(x) + MLP(x, s)``: the exact score of ``target`` plus a random tanh MLP.

    ``width`` hidden units in each of ``depth`` hidden layers; the input is ``(x, s)``; the output
    layer is scaled so that the perturbation's RMS per coordinate is ``perturbation`` on draws of
    ``N(0, I)`` at ``s = T`` (the start of the backward process). Called as ``score(x, s)`` with x of
    shape (..., d) and s broadcastable to x's leading shape (the samplers' contract: (M, n, d), (M, 1)).
    """

    def __init__(self, target, d: int, width: int, depth: int, perturbation: float, T: float, seed: int,
                 dtype: torch.dtype, device: torch.device):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        sizes = [d + 1] + [width] * depth + [d]
        self.layers = torch.nn.ModuleList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layer = torch.nn.Linear(fan_in, fan_out, dtype=dtype)
            with torch.no_grad():
                layer.weight.copy_(torch.randn(fan_out, fan_in, generator=g, dtype=dtype) / math.sqrt(fan_in))
                layer.bias.copy_(0.1 * torch.randn(fan_out, generator=g, dtype=dtype))
            self.layers.append(layer)
        self.to(device)
        self.target = target
        with torch.no_grad():
            probe = torch.randn(256, d, generator=g, dtype=dtype).to(device)
            rms = self._mlp(probe, torch.full((256, 1), T, dtype=dtype, device=device)).pow(2).mean().sqrt()
            self.layers[-1].weight.mul_(perturbation / rms)
            self.layers[-1].bias.mul_(perturbation / rms)

    def _mlp(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, s.expand(*x.shape[:-1], 1)], dim=-1)
        for layer in self.layers[:-1]:
            h = torch.tanh(layer(h))
        return self.layers[-1](h)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, s) -> torch.Tensor:
        t = torch.as_tensor(s, dtype=x.dtype, device=x.device)
        while t.dim() < x.dim():
            t = t.unsqueeze(-1)
        return self.target.score(x, s) + self._mlp(x, t)


class PeakMemory:
    """Peak memory of a region: CUDA's allocator peak, or on Linux the growth of the resident peak."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cpu_ok = device.type == "cpu" and os.path.exists("/proc/self/clear_refs")
        self.libc = None
        if self.cpu_ok:
            try:  # glibc: every block ≥ 128 KiB its own mapping, returned on free, so RSS follows live tensors
                self.libc = ctypes.CDLL("libc.so.6")
                self.libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD (fixed: no dynamic raise)
            except (OSError, AttributeError):
                self.libc = None

    @staticmethod
    def _status(field: str) -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(field)

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        elif self.cpu_ok:
            if self.libc is not None:
                self.libc.malloc_trim(0)
            try:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")  # reset VmHWM to the current resident set
                self.base = self._status("VmRSS")
            except OSError:
                self.cpu_ok = False

    def stop(self) -> float | None:
        """MiB above the start, or None where it cannot be measured."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return (torch.cuda.max_memory_allocated(self.device) - self.base) / 2**20
        if self.cpu_ok:
            return max(0, self._status("VmHWM") - self.base) / 2**20
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(run, device, repeats: int, memory: PeakMemory):
    """(median seconds, result of the last run, peak MiB of the first timed run)."""
    run()  # warm-up
    times, peak, out = [], None, None
    for i in range(repeats):
        if i == 0:
            memory.start()
        _sync(device)
        t0 = time.perf_counter()
        out = run()
        _sync(device)
        times.append(time.perf_counter() - t0)
        if i == 0:
            peak = memory.stop()
    return statistics.median(times), out, peak


def _distance(x: torch.Tensor, ref: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x - ref) / torch.linalg.vector_norm(ref))


def bench_dim(d: int, args, device: torch.device, dtype: torch.dtype) -> list[dict]:
    preset = sde_preset(d, args.delta)
    grid = TimeGrid.uniform(preset.T, preset.eta, preset.N, args.steps)
    target = Gaussian(torch.linspace(-1.0, 1.0, d, dtype=dtype), torch.linspace(0.5, 2.0, d, dtype=dtype),
                      device=device)
    score = MLPScore(target, d, args.width, args.depth, args.perturbation, preset.T, args.seed, dtype, device)
    n = args.samples
    noise = lambda: StepNoise(grid, n, d, generator=args.seed, dtype=dtype, device=device)
    common = dict(n=n, dim=d, dtype=dtype, device=device)
    seq = sequential_sde(score, grid, noise=noise(), **common).samples
    memory = PeakMemory(device)

    def attempt(make):
        out = make()
        return _distance(out.samples, seq), out

    # K*: the smallest K meeting the accuracy (doubling, then bisection; the distance falls with K)
    dist_of = {}
    def k_dist(K):
        if K not in dist_of:
            dist_of[K] = attempt(lambda: piadm_sde(score, grid, K=K, noise=noise(), **common))[0]
        return dist_of[K]
    hi = 1
    while k_dist(hi) > args.accuracy and hi < args.steps + 1:
        hi = min(2 * hi, args.steps + 1)
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if k_dist(mid) <= args.accuracy else (mid, hi)
    k_star = hi

    def loosest(make):
        """The largest tolerance of --tols whose run meets the accuracy (None if none does)."""
        for tol in sorted(args.tols, reverse=True):
            if attempt(lambda: make(tol))[0] <= args.accuracy:
                return tol
        return None

    tol_adaptive = loosest(lambda t: piadm_sde(score, grid, K=None, tol=t, max_K=args.steps + 1, noise=noise(),
                                               **common))
    tol_paradigms = loosest(lambda t: paradigms(score, grid, window=args.steps, tol=t, noise=noise(), **common))
    runs = [
        ("sequential", "", lambda: sequential_sde(score, grid, noise=noise(), **common)),
        ("piadm_sde preset K", f"K={preset.K}", lambda: piadm_sde(score, grid, K=preset.K, noise=noise(), **common)),
        ("piadm_sde K*", f"K={k_star}", lambda: piadm_sde(score, grid, K=k_star, noise=noise(), **common)),
    ]
    if tol_adaptive is not None:
        runs.append(("adaptive piadm", f"tol={tol_adaptive:g}",
                     lambda: piadm_sde(score, grid, K=None, tol=tol_adaptive, max_K=args.steps + 1, noise=noise(),
                                       **common)))
    if tol_paradigms is not None:
        runs.append(("paradigms", f"window={args.steps} tol={tol_paradigms:g}",
                     lambda: paradigms(score, grid, window=args.steps, tol=tol_paradigms, noise=noise(), **common)))
    rows = []
    for name, setting, run in runs:
        seconds, out, peak = _time(run, device, args.repeats, memory)
        rows.append({"d": d, "sampler": name, "setting": setting, "n": n, "T": preset.T, "blocks": preset.N,
                     "M": args.steps, "distance": _distance(out.samples, seq), "ms_per_sample": 1e3 * seconds / n,
                     "seconds": seconds, "rounds": out.rounds, "score_evals": out.score_evals, "peak_mib": peak})
        if name == "piadm_sde K*":
            rows[-1]["searched"] = {str(k): v for k, v in sorted(dist_of.items())}  # K → distance, as searched
    return rows


def run_cuda_checks(report: dict) -> bool:
    """tests/test_cuda.py under pytest and bench_sde's parity check; True if both pass."""
    test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(HERE, os.pardir, "tests", "test_cuda.py")], capture_output=True, text=True)
    print(test.stdout[-3000:] + test.stderr[-2000:])
    report["cuda_tests"] = {"returncode": test.returncode, "tail": test.stdout[-3000:]}
    sys.path.insert(0, HERE)
    from bench_sde import parity_check

    report["parity"] = parity_check(torch.device("cuda"))
    return test.returncode == 0 and all(v["ok"] for v in report["parity"].values())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--dims", type=int, nargs="+", default=[64, 1024])
    p.add_argument("--samples", type=int, default=32, help="n, samples per run (default 32)")
    p.add_argument("--steps", type=int, default=32, help="M, steps per block (default 32)")
    p.add_argument("--delta", type=float, default=0.5, help="δ of the theorem's preset (T, N, K) (default 0.5)")
    p.add_argument("--width", type=int, default=256, help="hidden units per layer of the MLP (default 256)")
    p.add_argument("--depth", type=int, default=2, help="hidden layers of the MLP (default 2)")
    p.add_argument("--perturbation", type=float, default=0.1, help="RMS of the MLP's output per coordinate (default 0.1)")
    p.add_argument("--accuracy", type=float, default=1e-3, help="τ, the relative distance to the sequential output")
    p.add_argument("--tols", type=float, nargs="+", default=[0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001],
                   help="tolerances tried for adaptive PIADM and ParaDiGMS (the largest meeting τ is kept)")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float64")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    args = p.parse_args(argv)
    for name in ("samples", "steps", "width", "depth", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if any(d < 1 for d in args.dims):
        p.error("--dims must be positive integers")
    for name in ("delta", "perturbation", "accuracy"):
        if not getattr(args, name) > 0:
            p.error(f"--{name} must be > 0")
    if not all(t > 0 for t in args.tols):
        p.error("--tols must be > 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.json is None and args.device == "cuda" and os.environ.get("OUT"):
        args.json = os.path.join(os.environ["OUT"], "bench_wallclock.json")
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    report = {"torch": torch.__version__, "device": str(device) + (
        f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "threads": torch.get_num_threads(), "dtype": args.dtype, "args": vars(args)}
    ok = True
    if device.type == "cuda":
        ok = run_cuda_checks(report)
    print(f"torch {torch.__version__}, device {report['device']}, {torch.get_num_threads()} threads, {args.dtype}; "
          f"MLP {args.depth}x{args.width} tanh + exact Gaussian score (perturbation RMS {args.perturbation}); "
          f"n={args.samples}, M={args.steps} per block, τ={args.accuracy:g}, median of {args.repeats}")
    header = (f"{'d':>5} {'sampler':<19} {'setting':<22} {'distance':>9} {'ms/sample':>10} {'rounds':>7} "
              f"{'evals':>7} {'peak MiB':>9}")
    print(header)
    print("-" * len(header))
    rows = []
    t0 = time.perf_counter()
    for d in args.dims:
        for row in bench_dim(d, args, device, dtype):
            rows.append(row)
            peak = "n/a" if row["peak_mib"] is None else f"{row['peak_mib']:.1f}"
            print(f"{d:>5} {row['sampler']:<19} {row['setting']:<22} {row['distance']:>9.2e} "
                  f"{row['ms_per_sample']:>10.3f} {row['rounds']:>7} {row['score_evals']:>7} {peak:>9}", flush=True)
    report["rows"] = rows
    report["seconds"] = time.perf_counter() - t0
    print(f"total {report['seconds']:.1f} s")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
