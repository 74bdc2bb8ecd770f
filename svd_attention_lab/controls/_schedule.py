"""The step schedule's meaning: ComfyUI's ``start_percent`` / ``end_percent``, fractions of the sampling
range in sigma space.

``percent_to_sigma`` is ComfyUI's conversion for SVD's sampling (``ModelSamplingContinuousEDM``: sigma
falls log-linearly from ``sigma_max`` at 0 to ``sigma_min``; 0 is above every sigma and 1 is 0), and a step
is patched when the sigma it is evaluated at lies between the two (both ends included), ComfyUI's rule
for start/end percents. The one implementation is the node's plain-Python reader
(``comfyui_svd_attention_lab.setting``), which the node folder carries into ComfyUI; this module names it
for the app.
"""

from __future__ import annotations

from comfyui_svd_attention_lab.setting import (
    SVD_SIGMA_MAX,
    SVD_SIGMA_MIN,
    karras_sigmas,
    percent_to_sigma,
    scheduled_steps,
    sigma_to_percent,
    step_fraction_to_percent,
)

__all__ = ["SVD_SIGMA_MAX", "SVD_SIGMA_MIN", "karras_sigmas", "patched_steps", "percent_to_sigma",
           "scheduled_steps", "sigma_to_percent", "step_fraction_to_percent"]


def patched_steps(start: float, end: float, steps: int, sigma_min: float = SVD_SIGMA_MIN,
                  sigma_max: float = SVD_SIGMA_MAX) -> range:
    """The denoising steps (0-based) the multipliers act in, of ``steps`` Karras steps (SVD's scheduler in
    the app, and the ``karras`` scheduler of the prompt the app exports) over ``sigma_min``..``sigma_max``:
    step i when ``percent_to_sigma(end) <= sigma_i <= percent_to_sigma(start)``."""
    if (start, end) == (0.0, 1.0):
        return range(steps)
    return scheduled_steps(start, end, karras_sigmas(steps, sigma_min, sigma_max), sigma_min, sigma_max)
