"""The wipe comparison player in a browser: both halves show the same frame, the divider follows the
mouse and the arrow keys. The clip's frames carry their own index as a grey level (baseline rising,
patched falling), so the picture itself says which frame each half shows."""

import numpy as np
import pytest

FRAMES, HEIGHT, WIDTH, FPS = 8, 64, 96, 7


def level_clip(levels):
    return np.stack([np.full((HEIGHT, WIDTH, 3), v, np.uint8) for v in levels])


BASELINE = level_clip([30 + 25 * k for k in range(FRAMES)])  # frame k: grey 30 + 25 k
PATCHED = level_clip([230 - 25 * k for k in range(FRAMES)])  # frame k: grey 230 - 25 k


@pytest.fixture(scope="module")
def wipe_url():
    import gradio as gr
    from app_server import free_port

    from svd_attention_lab.ui._wipe import wipe_player, wipe_value

    value = wipe_value(BASELINE, PATCHED, FPS)
    with gr.Blocks() as demo:
        player = wipe_player(elem_id="wipe")
        show = gr.Button("Show", elem_id="show")
        show.click(lambda: value, outputs=player)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


SAMPLES = """async (n) => {
  const root = document.querySelector('#wipe .svd-wipe');
  const video = root.querySelector('video'), canvas = root.querySelector('canvas');
  const g = canvas.getContext('2d', {willReadFrequently: true});
  const out = [];
  for (let i = 0; i < n; i++) {
    const meta = await new Promise(done => video.requestVideoFrameCallback((now, m) => done(m)));
    await new Promise(done => requestAnimationFrame(done));  // the player has painted this frame
    const y = canvas.height >> 1;
    out.push({time: meta.mediaTime, drawn: Number(root.dataset.frameTime),
              left: g.getImageData(Math.floor(canvas.width * 0.1), y, 1, 1).data[0],
              right: g.getImageData(Math.floor(canvas.width * 0.9), y, 1, 1).data[0]});
  }
  return out;
}"""


def open_player(page, url):
    page.goto(url)
    page.click("#show")
    page.wait_for_function("() => document.querySelector('#wipe .svd-wipe')?.dataset.ready === 'true'",
                           timeout=60_000)


def test_both_halves_show_the_same_frame_while_it_loops(page, wipe_url):
    open_player(page, wipe_url)
    samples = page.evaluate(SAMPLES, 2 * FRAMES + 2)
    seen = set()
    for s in samples:
        left_frame = round((s["left"] - 30) / 25)  # the baseline half's frame, read from its picture
        right_frame = round((230 - s["right"]) / 25)  # the patched half's
        assert left_frame == right_frame, s
        assert left_frame == round(s["time"] * FPS) % FRAMES == round(s["drawn"] * FPS) % FRAMES
        seen.add(left_frame)
    assert seen == set(range(FRAMES))  # it plays every frame, and loops (more samples than frames)
    assert min(s["time"] for s in samples[FRAMES:]) < max(s["time"] for s in samples[:FRAMES])


def divider(page) -> float:
    return float(page.get_attribute("#wipe .wipe-divider", "aria-valuenow"))


def test_the_divider_moves_with_the_mouse_and_the_arrow_keys(page, wipe_url):
    open_player(page, wipe_url)
    assert divider(page) == 50
    box = page.locator("#wipe canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert divider(page) == pytest.approx(25, abs=1)
    page.evaluate("() => document.querySelector('#wipe video').pause()")
    page.wait_for_function("() => document.querySelector('#wipe video').paused")
    shown = page.evaluate("""() => { const c = document.querySelector('#wipe canvas');
        const g = c.getContext('2d'); const y = c.height >> 1;
        return [0.2, 0.3].map(f => g.getImageData(Math.floor(c.width * f), y, 1, 1).data[0]); }""")
    frame = round((shown[0] - 30) / 25)
    assert round((230 - shown[1]) / 25) == frame  # left of 25 %: baseline; right of it: patched, same frame
    assert shown[0] != shown[1] or frame == 4
    assert page.evaluate("() => document.activeElement.classList.contains('wipe-divider')")  # focus follows
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert divider(page) == pytest.approx(29, abs=1)
    page.keyboard.press("Shift+ArrowLeft")
    assert divider(page) == pytest.approx(19, abs=1)
    page.keyboard.press("End")
    assert divider(page) == 100
    page.keyboard.press("Home")
    assert divider(page) == 0
    page.locator("#wipe .wipe-divider").focus()  # reachable by keyboard focus on its own (tabindex 0)
    assert page.get_attribute("#wipe .wipe-divider", "role") == "slider"


def test_a_paint_from_the_divider_shows_one_frame_on_both_halves_while_it_plays(page, wipe_url):
    """The divider repaints between the video's frames: both halves must still come from one frame. Each
    key press paints; the picture is read at once on both sides of the divider, thousands of times while
    the clip plays (painting each half straight from the playing video mixed two frames in 2 to 4 of
    8,000 paints here)."""
    open_player(page, wipe_url)
    mixed, paints = page.evaluate("""async (paints) => {
      const root = document.querySelector('#wipe .svd-wipe'), divider = root.querySelector('.wipe-divider');
      const canvas = root.querySelector('canvas'), g = canvas.getContext('2d', {willReadFrequently: true});
      const mixed = [];
      for (let i = 0; i < paints; i++) {
        divider.dispatchEvent(new KeyboardEvent('keydown', {key: i % 2 ? 'ArrowRight' : 'ArrowLeft', bubbles: true}));
        const y = canvas.height >> 1, split = Number(divider.getAttribute('aria-valuenow')) / 100;
        const left = g.getImageData(Math.floor(canvas.width * (split - 0.05)), y, 1, 1).data[0];
        const right = g.getImageData(Math.floor(canvas.width * (split + 0.05)), y, 1, 1).data[0];
        if (Math.round((left - 30) / 25) !== Math.round((230 - right) / 25)) mixed.push([left, right]);
        if (i % 2) await new Promise(done => setTimeout(done));  // let the video move on between pairs
      }
      return [mixed, paints];
    }""", 8000)
    assert page.evaluate("() => !document.querySelector('#wipe video').paused")  # it played throughout
    assert mixed == [], f"{len(mixed)} of {paints} paints mixed two frames"
