class PresetError(ValueError):
    """A preset, share link or ComfyUI workflow that cannot be read; the message names the field."""
