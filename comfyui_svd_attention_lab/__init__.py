"""ComfyUI custom node of the SVD Temporal Attention Lab: copy this folder into ``ComfyUI/custom_nodes/``."""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
