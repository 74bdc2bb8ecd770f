import pytest
import torch

from tiny_models import tiny_unet


@pytest.fixture
def unet():
    return tiny_unet()


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def demo_model():
    """The embedded demo model, loaded once on the CPU in float32."""
    from preview import load_model

    return load_model("demo", device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def sample_image():
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 80), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 15, 55, 50), fill=(240, 200, 40))
    draw.rectangle((60, 40, 90, 75), fill=(200, 40, 40))
    return image


class UnetCalls:
    """Counts UNet forward passes through a hook."""

    def __init__(self, unet):
        self.count = 0
        self._handle = unet.register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        self.count += 1

    def remove(self):
        self._handle.remove()


@pytest.fixture
def unet_calls(demo_model):
    calls = UnetCalls(demo_model.pipe.unet)
    yield calls
    calls.remove()
