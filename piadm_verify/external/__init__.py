"""Other libraries' samplers on the bench (docs/mathematics.md §13): diffusers' schedulers as samplers
under the contract, on the OU grid their timesteps define, with their exact output laws on Gaussian
targets. diffusers is an optional dependency (``pip install -e ".[diffusers]"``): it is imported
only when a scheduler is driven, so this package imports without it."""

from .diffusers_driver import (
    FLOAT32_STATE_RTOL,
    INSTALL_HINT,
    KINDS,
    PREDICTION_TYPES,
    DiffusersChain,
    DiffusersSampler,
    OUSchedule,
    SchedulerKind,
    diffusers_sampler,
    kind_of,
    model_time,
    network,
    ou_schedule,
    require_diffusers,
)
from .diffusers_laws import (
    affinity_residual,
    ancestral_law,
    diffusers_law,
    epsilon_frozen_law,
    law_route,
    loop_law,
    propagate_law,
)

__all__ = ["diffusers_sampler", "DiffusersSampler", "DiffusersChain", "OUSchedule", "SchedulerKind", "KINDS",
           "PREDICTION_TYPES", "FLOAT32_STATE_RTOL", "INSTALL_HINT", "require_diffusers", "kind_of", "model_time",
           "network", "ou_schedule", "diffusers_law", "law_route", "propagate_law", "epsilon_frozen_law", "ancestral_law",
           "loop_law",
           "affinity_residual"]
