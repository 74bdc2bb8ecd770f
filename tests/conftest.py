import os

import pytest

try:
    import torch
except ImportError:  # .ci/py310 runs the torch-free tests on Python 3.10.13, where torch is not installed
    torch = None


@pytest.fixture
def unet():
    from tiny_models import tiny_unet

    return tiny_unet()


# Two threads in one process; one per worker when pytest-xdist runs the suite on two (two cores),
# and one for the commands its tests start. Set now, so the session's and modules' fixtures render
# with it too: more threads than cores make every process wait on the others' spinning threads.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
THREADS = 1 if WORKER else 2
if WORKER:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
if torch is not None:
    torch.set_num_threads(THREADS)

# The files that take a minute or more, heaviest first: they start first, so the workers end together.
SLOWEST_FIRST = ("test_bench.py", "test_browser.py", "test_hostile_inputs.py", "test_demo_model.py", "test_batch.py",
                 "test_app.py", "test_comfyui.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: each module's tests keep their order


@pytest.fixture(autouse=True)
def _deterministic_threads():
    if torch is not None:
        torch.set_num_threads(THREADS)


@pytest.fixture(scope="session")
def demo_model():
    """The embedded demo model, loaded once on the CPU in float32."""
    from svd_attention_lab.engine import load_model

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
    from tiny_models import UnetCalls

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
    from tiny_models import count_renders

    return count_renders(monkeypatch)
