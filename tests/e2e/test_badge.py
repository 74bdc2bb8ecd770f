"""The page's model badge is the loaded model's own description: what a converted SVD-XT 1.1 file is
called once it is loaded, and "not loaded yet" before anything is."""

import pytest

import app
from app_server import free_port
from svd_attention_lab import engine, hosting, outputs
from svd_attention_lab.checkpoints import convert
from svd_attention_lab.engine import DEMO_MODEL_DIR

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The demo model converted to one file named as Stability names SVD-XT 1.1, loaded for 25 frames by
    --preload: (the file, what the page said before the model loaded, the page's url)."""
    path = tmp_path_factory.mktemp("model") / "svd_xt_1_1.safetensors"
    convert(DEMO_MODEL_DIR, path)
    studio = hosting.Studio(engine.ModelHolder(str(path), device="cpu", frames=25),
                            outputs.OutputDir(str(tmp_path_factory.mktemp("outputs"))))
    own = studio.default_settings  # the badge is under test, not 25-frame renders: the page's renders take 4
    studio.default_settings = lambda full=False: own(full).replace(frames=4, decode_chunk_size=4)
    demo = app.build_demo(studio)
    before = next(c["props"]["value"] for c in demo.get_config_file()["components"]
                  if c["props"].get("elem_id") == "model-badge")
    app.preload(demo)  # loads the model and renders the first visit's comparison into the page
    demo.queue(max_size=4)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **app.launch_options(studio))
    yield path, before, f"http://127.0.0.1:{port}/"
    demo.close()


def test_the_badge_says_not_loaded_yet_then_what_was_loaded(page, converted):
    path, before, url = converted
    assert "not loaded yet" in before

    page.goto(url)
    badge = page.locator("#model-badge")
    badge.filter(has_text="SVD-XT 1.1").wait_for(timeout=120_000)
    text = badge.inner_text()
    assert str(path.resolve()) in text and "single file" in text and "not loaded yet" not in text
