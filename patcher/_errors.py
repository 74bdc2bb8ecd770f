class PatchError(ValueError):
    """A model or checkpoint that the operation cannot be applied to."""
