import pytest
import torch

import preview._render

from tiny_models import UnetCalls, tiny_unet


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


@pytest.fixture
def unet_calls(demo_model):
    calls = UnetCalls(demo_model.pipe.unet)
    yield calls
    calls.remove()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on the demo model, in this process, for one test module: (lab, url)."""
    from app_server import launch_app

    lab, demo, url = launch_app(str(tmp_path_factory.mktemp("outputs")))
    yield lab, url
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    from app_server import connect

    return connect(server[1])


@pytest.fixture
def counted_renders(monkeypatch):
    """Videos the GPU function renders (a baseline or a patched video each)."""
    counts = []
    real = preview._render.gpu_render_frames

    def counting(job, *args):
        counts.append(len(job.videos))
        return real(job, *args)

    monkeypatch.setattr(preview._render, "gpu_render_frames", counting)
    return counts
