"""The one error of reading: the reader's own (``comfyui_svd_attention_lab.setting``), so a refusal is the
same error, with the same sentence, whichever way a text comes in."""

from comfyui_svd_attention_lab.setting import SettingError as PresetError  # a ValueError; the message names the field

__all__ = ["PresetError"]
