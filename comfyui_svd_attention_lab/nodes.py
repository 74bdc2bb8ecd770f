"""The node: SVD's attention output projections scaled as ComfyUI's ``UNetTemporalAttentionMultiply``
scales them, with the app's step schedule and per-region factors.

Every step (the default schedule) the node adds the same weight patches as that node, with each
tensor's own value (global times region factor), so ComfyUI applies them as it applies any patch.
With a schedule the patches are held by a ComfyUI weight hook instead, and a model wrapper (run
at every UNet call of a sampler) finds the call's step from the run's sigmas and puts the hook's
weights in (inside the window) or the original ones (outside) before the UNet runs.
"""

from __future__ import annotations

import logging

import comfy.hooks
import comfy.patcher_extension

from .setting import FIELDS, HIGH, LOW, REGION_INPUTS, Setting, key_target, step_of

logger = logging.getLogger(__name__)

WRAPPER_KEY = "svd_attention_lab"
_MULTIPLIER = {"default": 1.0, "min": LOW, "max": HIGH, "step": 0.01}
_PERCENT = {"min": 0.0, "max": 1.0, "step": 0.01}


class StepSchedule:
    """An ``APPLY_MODEL`` wrapper: the hook's weights in the schedule's steps, the originals in the others."""

    def __init__(self, setting: Setting, hooks: comfy.hooks.HookGroup) -> None:
        self.setting = setting
        self.hooks = hooks

    def __call__(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={},
                 **kwargs):
        patcher = executor.class_obj.current_patcher
        sigmas = transformer_options.get("sample_sigmas")
        if sigmas is None:  # called outside a sampler: no step to go by; the setting's multipliers hold
            active = True
        else:
            sigmas = [float(s) for s in sigmas]
            active = step_of(sigmas, float(t.flatten()[0])) in self.setting.steps(len(sigmas) - 1)
        wanted = self.hooks if active else None
        if patcher.current_hooks != wanted:
            patcher.patch_hooks(wanted)
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    def to(self, device):  # ComfyUI moves wrappers with the model; this one holds no tensors
        return self


class SVDAttentionLab:
    """The SVD Temporal Attention Lab's whole setting, applied to a MODEL."""

    CATEGORY = "advanced/model_patches"
    FUNCTION = "patch"
    RETURN_TYPES = ("MODEL",)
    DESCRIPTION = ("Scales SVD's self- and cross-attention output projections, spatial and temporal, as "
                   "UNetTemporalAttentionMultiply does, in the steps from start_percent to end_percent, with "
                   "per-region factors for the UNet's down, mid and up blocks. A preset JSON or share link from "
                   "the SVD Temporal Attention Lab, pasted into setting, gives all of it.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("MODEL",),
                **{field: ("FLOAT", dict(_MULTIPLIER)) for field in FIELDS},
                "start_percent": ("FLOAT", {"default": 0.0, **_PERCENT,
                                            "tooltip": "the multipliers act in step i of n when start <= i/n < end"}),
                "end_percent": ("FLOAT", {"default": 1.0, **_PERCENT}),
            },
            "optional": {
                **{name: ("FLOAT", dict(_MULTIPLIER, tooltip="factor on the global value in this region"))
                   for name in REGION_INPUTS},
                "setting": ("STRING", {"default": "", "multiline": True,
                                       "tooltip": "a preset JSON or share link from the app; when set, it is the "
                                                  "whole setting and the values above are not used"}),
            },
        }

    def patch(self, model, setting: str = "", **inputs):
        chosen = Setting.from_text(setting) if setting.strip() else Setting.from_inputs(inputs)
        patched = model.clone()
        values = {}
        for key in model.model_state_dict():
            target = key_target(key)
            if target is not None:
                values[key] = chosen.value(*target)
        if chosen.every_step:
            for key, value in values.items():  # exactly UNetTemporalAttentionMultiply's patches
                patched.add_patches({key: (None,)}, 0.0, value)
            return (patched,)
        hook = comfy.hooks.WeightHook()
        hooks = comfy.hooks.HookGroup()
        hooks.add(hook)
        for key, value in values.items():
            patched.add_hook_patches(hook, {key: (None,)}, 0.0, value)
        patched.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, WRAPPER_KEY,
                                     StepSchedule(chosen, hooks))
        return (patched,)


NODE_CLASS_MAPPINGS = {"SVDAttentionLab": SVDAttentionLab}
NODE_DISPLAY_NAME_MAPPINGS = {"SVDAttentionLab": "SVD Attention Lab (multipliers, schedule, regions)"}
