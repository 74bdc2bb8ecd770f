"""SVD Temporal Attention Lab: the library under ``app.py``.

Packages, lowest first: ``controls`` (the multipliers and render settings, torch-free), ``files``
(atomic output), ``checkpoints`` (safetensors files, SGM <-> diffusers naming, single files),
``engine`` (loading and rendering), ``outputs`` (videos, files, metrics), ``studies`` (sweeps, the
motion meter), ``hosting`` (the session service, budget, ZeroGPU), ``ui`` (the Gradio page's parts)
and ``batch`` (plans of many renders). The operation itself is the top-level ``patcher``; presets,
share links and ComfyUI interchange are the top-level ``presets``. Nothing is imported here.
"""
