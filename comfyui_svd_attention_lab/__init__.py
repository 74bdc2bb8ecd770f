"""ComfyUI custom node of the SVD Temporal Attention Lab: copy this folder into ``ComfyUI/custom_nodes/``.

ComfyUI finds the node through ``comfy_entrypoint`` (its V3 node API). Importing the package loads no
ComfyUI module, so the app imports the node's plain-Python reader of settings, ``setting``, from here:
one reader for both, and the node's name.
"""

NODE_ID = "SVDAttentionLab"
# what ComfyUI's menu shows, and what a prompt's _meta title names when ComfyUI lacks the node: the folder to install
DISPLAY_NAME = "SVD Attention Lab (comfyui_svd_attention_lab)"


async def comfy_entrypoint():
    from .nodes import SVDAttentionLabExtension

    return SVDAttentionLabExtension()


__all__ = ["DISPLAY_NAME", "NODE_ID", "comfy_entrypoint"]
