class PreviewError(ValueError):
    """Bad input to the preview engine (image, settings, model source); the message says what to do."""


class ModelLoadError(PreviewError):
    """The model source could not be loaded."""


class RenderCancelled(Exception):
    """Raised from inside a render when its cancel check fires; the UNet is restored."""
