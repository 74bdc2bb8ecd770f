"""ComfyUI custom node of the SVD Temporal Attention Lab: copy this folder into ``ComfyUI/custom_nodes/``.

ComfyUI finds the node through ``comfy_entrypoint`` (its V3 node API). Importing the package loads no
ComfyUI module, so the app imports the node's plain-Python reader of settings, ``setting``, from here:
one reader for both.
"""


async def comfy_entrypoint():
    from .nodes import SVDAttentionLabExtension

    return SVDAttentionLabExtension()


__all__ = ["comfy_entrypoint"]
