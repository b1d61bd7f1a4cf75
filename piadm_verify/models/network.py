"""A small ε-prediction network on the OU clock, and its save/load (docs/mathematics.md §13, §14).

The network predicts the noise ``ε`` of ``x_s = √ᾱ x_0 + σ ε`` (``ᾱ(s) = e^{−s}``,
``σ(s)² = 1 − e^{−s}``): :meth:`ScoreNetwork.epsilon` is the ε-model ``ε̂(x, s)``, and calling the
module gives the score by Tweedie's formula, ``score(x, s) = −ε̂(x, s)/σ(s)`` (§13), so it plugs
into every sampler as ``score(x, s)``. A library that wants an ε-model on the OU clock (a diffusers
scheduler, whose ``alphas_cumprod`` sits at ``s = −log ᾱ``) takes ``net.epsilon``.

Architecture: an MLP on ``[x, φ(s)]`` with SiLU activations, ``depth`` hidden layers of ``width``
units, and the time embedding ``φ(s) = (σ(s), e^{−s/2}, sin(f_k log s), cos(f_k log s))`` for a fixed
set of frequencies ``f_k``. The architecture is a small dict (:attr:`ScoreNetwork.architecture`) that
:func:`save_score` stores next to the weights and :func:`load_score` rebuilds from.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from analytic.ou import ou_mean_factor, ou_noise_variance

from ..core.checks import positive_int

__all__ = ["ScoreNetwork", "FREQUENCIES", "save_score", "load_score", "FORMAT", "VERSION"]

FORMAT = "piadm-verify-score-network"
VERSION = 1
FREQUENCIES = (0.25, 0.5, 1.0, 2.0)
ARCHITECTURE_FIELDS = ("dim", "width", "depth", "frequencies")


def _score_from_epsilon(epsilon: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``score = −ε̂/σ(s)`` (docs/mathematics.md §13); ``s`` shaped like ``epsilon.shape[:-1]``.

    A local copy of the ε → score adapter, until the adapters of ``piadm_verify.scores`` exist."""
    return -epsilon / ou_noise_variance(s).sqrt()[..., None]


class ScoreNetwork(nn.Module):
    """An ε-prediction MLP for a ``dim``-dimensional target; ``net(x, s)`` is the score ``−ε̂/σ``.

    ``x`` has shape ``(..., dim)`` and any float dtype and device; forward time ``s`` (> 0) is a
    scalar or broadcastable to ``x.shape[:-1]`` (samplers pass points ``(M, n, d)`` with times
    ``(M, 1)``). The network computes in its own dtype and device (``net.to(torch.float64)`` for a
    float64 network; float32 weights are exact in float64) and returns the dtype and device of ``x``.
    """

    def __init__(self, dim: int, width: int = 64, depth: int = 3, frequencies=FREQUENCIES):
        super().__init__()
        self.dim = positive_int(dim, "dim")
        self.width = positive_int(width, "width")
        self.depth = positive_int(depth, "depth")
        self.frequencies = tuple(float(f) for f in frequencies)
        if not self.frequencies or not all(math.isfinite(f) and f > 0 for f in self.frequencies):
            raise ValueError(f"frequencies must be a non-empty list of finite numbers > 0, got {frequencies!r}")
        self.register_buffer("_frequencies", torch.tensor(self.frequencies), persistent=False)
        features = self.dim + 2 + 2 * len(self.frequencies)
        sizes = [features] + [self.width] * self.depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(self.width, self.dim)

    @property
    def architecture(self) -> dict:
        """What rebuilds the module: ``{"dim", "width", "depth", "frequencies"}``."""
        return {"dim": self.dim, "width": self.width, "depth": self.depth, "frequencies": list(self.frequencies)}

    def _inputs(self, x: torch.Tensor, s) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point torch.Tensor of shape (..., {self.dim})")
        if x.dim() == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (..., {self.dim}), got {tuple(x.shape)}")
        weight = self.output.weight
        x = x.to(dtype=weight.dtype, device=weight.device)
        t = torch.as_tensor(s, dtype=weight.dtype, device=weight.device)
        try:
            t = torch.broadcast_to(t, x.shape[:-1])
        except RuntimeError:
            raise ValueError(f"s of shape {tuple(t.shape)} does not broadcast to x.shape[:-1] = {tuple(x.shape[:-1])}") from None
        return x, t

    def _epsilon(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        log_t = t.log()[..., None] * self._frequencies.to(dtype=t.dtype)
        embedding = torch.cat([ou_noise_variance(t).sqrt()[..., None], ou_mean_factor(t)[..., None],
                               log_t.sin(), log_t.cos()], dim=-1)
        h = torch.cat([x, embedding], dim=-1)
        for layer in self.hidden:
            h = nn.functional.silu(layer(h))
        return self.output(h)

    def epsilon(self, x: torch.Tensor, s) -> torch.Tensor:
        """The ε-model ``ε̂(x, s) ≈ E[ε | x_s = x] = −σ(s) ∇log p_s(x)`` (the hook for ε-based samplers)."""
        like = x
        x, t = self._inputs(x, s)
        return self._epsilon(x, t).to(dtype=like.dtype, device=like.device)

    def forward(self, x: torch.Tensor, s) -> torch.Tensor:
        """The score ``−ε̂(x, s)/σ(s)``, shaped like ``x``."""
        like = x
        x, t = self._inputs(x, s)
        return _score_from_epsilon(self._epsilon(x, t), t).to(dtype=like.dtype, device=like.device)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, width={self.width}, depth={self.depth}"


def save_score(net: ScoreNetwork, path) -> Path:
    """Write ``net`` to ``path`` (``torch.save`` of one dict: a format tag, the architecture, the
    state dict and ``net.metadata`` if set, e.g. the training settings). Returns the path."""
    if not isinstance(net, ScoreNetwork):
        raise TypeError(f"net must be a ScoreNetwork, got {type(net).__name__}")
    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    torch.save({"format": FORMAT, "version": VERSION, "architecture": net.architecture, "state_dict": state,
                "metadata": dict(getattr(net, "metadata", {}) or {})}, path)
    return path


def load_score(path, *, architecture=None, dtype: torch.dtype | None = None, device=None) -> ScoreNetwork:
    """The :class:`ScoreNetwork` saved at ``path`` by :func:`save_score`, in evaluation mode (its
    weights' dtype unless ``dtype`` is given; CPU unless ``device``).

    ``architecture``: the architecture the caller expects (a dict with some of ``dim``, ``width``,
    ``depth``, ``frequencies``, or a :class:`ScoreNetwork`); a file saved with another one raises
    ValueError naming the fields that differ. A file that is not a saved network, or whose weights
    do not fit the architecture recorded with them, raises ValueError too: never a partial load."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:
        raise ValueError(f"{path} is not a saved score network ({type(error).__name__}: {error})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{path} is not a saved score network (no {FORMAT!r} format tag)")
    if blob.get("version") != VERSION:
        raise ValueError(f"{path} has format version {blob.get('version')!r}; this code reads version {VERSION}")
    recorded = blob.get("architecture")
    if not isinstance(recorded, dict) or set(recorded) != set(ARCHITECTURE_FIELDS):
        raise ValueError(f"{path}: the recorded architecture is malformed: {recorded!r}")
    if architecture is not None:
        expected = architecture.architecture if isinstance(architecture, ScoreNetwork) else dict(architecture)
        unknown = sorted(set(expected) - set(ARCHITECTURE_FIELDS))
        if unknown:
            raise ValueError(f"architecture has unknown fields {unknown}; known: {list(ARCHITECTURE_FIELDS)}")
        differ = {k: (recorded[k], expected[k]) for k in expected
                  if (list(map(float, expected[k])) if k == "frequencies" else expected[k]) != recorded[k]}
        if differ:
            raise ValueError(f"{path} was saved with another architecture: "
                             + ", ".join(f"{k} = {saved!r} in the file, {wanted!r} expected" for k, (saved, wanted) in differ.items()))
    net = ScoreNetwork(**recorded)
    state = blob.get("state_dict")
    expected = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        missing = sorted(set(expected) - set(state or {}))
        unexpected = sorted(set(state or {}) - set(expected))
        raise ValueError(f"{path}: the weights do not fit the recorded architecture {recorded} "
                         f"(missing {missing}, unexpected {unexpected})")
    wrong = [f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        raise ValueError(f"{path}: the weights do not fit the recorded architecture {recorded}: {wrong}")
    weight_dtype = state["output.weight"].dtype
    net = net.to(dtype=weight_dtype)
    net.load_state_dict(state, strict=True)
    net.metadata = dict(blob.get("metadata") or {})
    net = net.to(dtype=dtype or weight_dtype, device=device or "cpu")
    return net.eval()
