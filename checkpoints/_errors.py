from patcher import PatchError


class CheckpointError(PatchError):
    """A checkpoint file or folder that cannot be read or written as asked; the message names it."""
