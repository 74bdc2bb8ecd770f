"""The node: SVD's attention output projections scaled as ComfyUI's ``UNetTemporalAttentionMultiply``
scales them, from ``start_percent`` to ``end_percent`` of the sampling schedule, with per-region factors.

With the whole schedule (0 to 1) the node adds the same weight patches as that node, with each
tensor's own value (global times region factor), so ComfyUI applies them as it applies any patch.
Otherwise the patches are held by a ComfyUI weight hook, and a model wrapper (run at every UNet call)
puts the hook's weights in where the call's sigma lies in the schedule, and the original ones
elsewhere. The schedule is in sigma space, through the model's own ``model_sampling.percent_to_sigma``,
with the rule ComfyUI applies to its own start/end percents: a call at sigma is patched when
``percent_to_sigma(end_percent) <= sigma <= percent_to_sigma(start_percent)``.
"""

from __future__ import annotations

import comfy.hooks
import comfy.patcher_extension
from comfy_api.latest import ComfyExtension, io

from . import DISPLAY_NAME, NODE_ID
from .setting import FIELDS, MULTIPLIER_MAX, MULTIPLIER_MIN, REGION_INPUTS, Setting, key_target

WRAPPER_KEY = "svd_attention_lab"


class SigmaSchedule:
    """An ``APPLY_MODEL`` wrapper: the hook's weights for calls whose sigma lies in the schedule, the
    original weights for the others."""

    def __init__(self, high: float, low: float, hooks: comfy.hooks.HookGroup) -> None:
        self.high, self.low = high, low  # percent_to_sigma(start), percent_to_sigma(end)
        self.hooks = hooks

    def __call__(self, executor, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options={},
                 **kwargs):
        patcher = executor.class_obj.current_patcher
        sigma = float(t.flatten()[0])  # BaseModel.apply_model's t is the call's sigma
        wanted = self.hooks if self.low <= sigma <= self.high else None
        if patcher.current_hooks != wanted:
            patcher.patch_hooks(wanted)
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)

    def to(self, device):  # ComfyUI moves wrappers with the model; this one holds no tensors
        return self


def _multiplier(name: str, tooltip: str | None = None, optional: bool = False) -> io.Float.Input:
    return io.Float.Input(name, default=1.0, min=MULTIPLIER_MIN, max=MULTIPLIER_MAX, step=0.01, tooltip=tooltip,
                          optional=optional)


def _percent(name: str, default: float, tooltip: str) -> io.Float.Input:
    return io.Float.Input(name, default=default, min=0.0, max=1.0, step=0.001, round=0.0001, tooltip=tooltip)


class SVDAttentionLab(io.ComfyNode):
    """The SVD Temporal Attention Lab's whole setting, applied to a MODEL."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=NODE_ID,
            display_name=DISPLAY_NAME,
            category="advanced/model_patches",
            description=("Scales SVD's self- and cross-attention output projections, spatial and temporal, as "
                         "UNetTemporalAttentionMultiply does, from start_percent to end_percent of the sampling "
                         "schedule (sigma space, as ComfyUI's own start/end percents), with per-region factors "
                         "for the UNet's down, mid and up blocks. A preset JSON or share link from the SVD "
                         "Temporal Attention Lab, pasted into setting, gives all of it."),
            inputs=[
                io.Model.Input("model"),
                *(_multiplier(field) for field in FIELDS),
                _percent("start_percent", 0.0, "the multipliers act from this point of the sampling schedule "
                                               "(sigma space: model_sampling.percent_to_sigma)"),
                _percent("end_percent", 1.0, "and stop acting at this point; 0 to 1 is every step"),
                *(_multiplier(name, "factor on the global value in this region", optional=True)
                  for name in REGION_INPUTS),
                io.String.Input("setting", default="", multiline=True, optional=True,
                                tooltip="a preset JSON or share link from the app; when set, it is the whole "
                                        "setting and the values above are not used"),
            ],
            outputs=[io.Model.Output()],
        )

    @classmethod
    def execute(cls, model, **inputs) -> io.NodeOutput:
        return io.NodeOutput(patched(model, Setting.from_node(inputs)))


def patched(model, setting: Setting):
    """A clone of ``model`` (a ModelPatcher) with ``setting`` applied."""
    result = model.clone()
    values = {}
    for key in model.model_state_dict():
        target = key_target(key)
        if target is not None:
            values[key] = setting.value(*target)
    if setting.every_step:
        for key, value in values.items():  # exactly UNetTemporalAttentionMultiply's patches
            result.add_patches({key: (None,)}, 0.0, value)
        return result
    sampling = model.get_model_object("model_sampling")
    high, low = (float(sampling.percent_to_sigma(p)) for p in (setting.start, setting.end))
    hook = comfy.hooks.WeightHook()
    hooks = comfy.hooks.HookGroup()
    hooks.add(hook)
    for key, value in values.items():
        result.add_hook_patches(hook, {key: (None,)}, 0.0, value)
    result.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, WRAPPER_KEY,
                                SigmaSchedule(high, low, hooks))
    return result


class SVDAttentionLabExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [SVDAttentionLab]
