"""Sampler registry for the diffusion backend: config name -> fresh diffusers scheduler.

Each builder takes the pipeline's own scheduler config (betas, timestep spacing, prediction type)
and returns a new scheduler instance; a fresh one per call keeps runs reproducible, since
multistep schedulers carry state between steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pipeline.registry import lookup


def _unipc(config: Mapping[str, Any]) -> Any:
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler.from_config(config)


def _dpmpp_2m_karras(config: Mapping[str, Any]) -> Any:
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler.from_config(
        config, algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=True
    )


def _euler_a(config: Mapping[str, Any]) -> Any:
    from diffusers import EulerAncestralDiscreteScheduler

    return EulerAncestralDiscreteScheduler.from_config(config)


def _ddim(config: Mapping[str, Any]) -> Any:
    from diffusers import DDIMScheduler

    return DDIMScheduler.from_config(config)


SCHEDULERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "unipc": _unipc,  # UniPC multistep: good at 20-30 steps
    "dpmpp_2m_karras": _dpmpp_2m_karras,  # DPM++ 2M with Karras sigmas
    "euler_a": _euler_a,  # Euler ancestral (stochastic; seeded through the generator)
    "ddim": _ddim,
}


def make_scheduler(name: str, base_config: Mapping[str, Any]) -> Any:
    """A new scheduler called ``name`` built from ``base_config``; ValueError lists the names."""
    return lookup(SCHEDULERS, name, "scheduler")(base_config)
