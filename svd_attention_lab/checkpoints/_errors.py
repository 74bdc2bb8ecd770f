from svd_attention_lab.files import FileRefused


class CheckpointError(FileRefused):
    """A checkpoint file or folder that cannot be read or written as asked; the message names it."""
