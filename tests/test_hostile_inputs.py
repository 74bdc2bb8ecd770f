"""Hostile and unusual inputs through the running app: each is accepted with the right result or refused
with a message that names the problem, and the next ordinary request is bitwise the reference.

One table across the four ways in: the /preview API, preset upload, ComfyUI import and share links.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image, PngImagePlugin

from presets._comfyui import to_api_node
from svd_attention_lab.ui._opening import opening
from app_server import connect
from svd_attention_lab.controls import Multipliers
from test_preview import read_mp4

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "fixtures" / "real"
FAST = {"frames": 4, "steps": 2, "decode_chunk_size": 4}
EXAMPLE = ROOT / "examples" / "shapes-2.png"


def preview(client, image=str(EXAMPLE), **values):
    args = {"seed": 5, "self_temporal": 0.5, **FAST, **values}
    if image is not None and not isinstance(image, dict):
        image = handle_file(str(image))
    return client.predict(image=image, **args, api_name="/preview")


@pytest.fixture(scope="module")
def reference(client):
    return read_mp4(preview(client)[2])


# --- files the cases upload -----------------------------------------------------------------------


def _png(image: Image.Image, tmp: Path, name: str, **options) -> Path:
    path = tmp / name
    image.save(path, **options)
    return path


def _text(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _preset(**changes) -> str:
    doc = {"format": "svd-attention-preset", "version": 2, "name": "x",
           "multipliers": {"self_structural": 1.0, "self_temporal": 0.7, "cross_structural": 1.0,
                           "cross_temporal": 1.0}}
    doc.update(changes)
    return json.dumps({k: v for k, v in doc.items() if v is not None})


def _workflow(node: dict | None = None, **extra) -> str:
    node = {"id": 7, "type": "UNetTemporalAttentionMultiply", "inputs": [{"name": "model", "type": "MODEL", "link": 1}],
            "widgets_values": [1.0, 0.6, 1.0, 1.1], **(node or {})}
    return json.dumps({"nodes": [node], "links": [], **extra})


def _comfy_png(tmp: Path, workflow: str | None) -> Path:
    info = PngImagePlugin.PngInfo()
    if workflow is not None:
        info.add_text("workflow", workflow)
    return _png(Image.new("RGB", (8, 8)), tmp, "comfy.png", pnginfo=info)


DEEP = "[" * 30_000 + "]" * 30_000  # 60 KB: under the 64 KB preset cap


# --- the table: (way in, payload maker, expected) ---------------------------------------------------
# expected: ("ok", check) or ("refused", text the message must contain)

def api(**values):
    return "api", lambda tmp: values


def api_image(make):
    return "api", lambda tmp: {"image": make(tmp)}


def upload(kind, make):
    return kind, make


def link(query):
    return "link", lambda tmp: query


CASES = {
    # /preview API: numbers
    "multiplier above 10": (api(self_temporal=10.5),
                            ("refused", "self_temporal must be between 0.0 and 10.0, got 10.5")),
    "multiplier below 0": (api(cross_structural=-1),
                           ("refused", "cross_structural must be between 0.0 and 10.0, got -1.0")),
    "multiplier as text": (api(self_temporal="abc"), ("refused", "self_temporal must be a number, got 'abc'")),
    "multiplier null": (api(self_temporal=None), ("refused", "self_temporal must be a number, got null")),
    "seed 1.5 (finding 6)": (api(seed=1.5), ("refused", "seed must be a whole number, got 1.5")),
    "seed negative": (api(seed=-1), ("refused", "seed must be between 0 and 4294967295, got -1")),
    "seed 2**32": (api(seed=2**32), ("refused", "seed must be between 0 and 4294967295, got 4294967296")),
    "seed as text": (api(seed="42"), ("refused", "seed must be a number, got '42'")),
    "frames 1": (api(frames=1), ("refused", "frames must be between 2 and 50, got 1")),
    "frames 4.5": (api(frames=4.5), ("refused", "frames must be a whole number, got 4.5")),
    "frames 51": (api(frames=51), ("refused", "frames must be between 2 and 50, got 51")),
    "steps 0": (api(steps=0), ("refused", "steps must be between 1 and 100, got 0")),
    "width 4096": (api(width=4096), ("refused", "must be between 0 and 2048, got 4096")),
    "height 100.5": (api(height=100.5), ("refused", "height must be a whole number")),
    "fps 0": (api(fps=0), ("refused", "must be between 1 and 60, got 0")),
    "motion bucket 2000": (api(motion_bucket_id=2000), ("refused", "motion_bucket_id must be between 0 and 1023")),
    "noise aug 1.5": (api(noise_aug_strength=1.5),
                      ("refused", "noise_aug_strength must be between 0.0 and 1.0, got 1.5")),
    "guidance falls": (api(min_guidance=5.0, max_guidance=2.0), ("refused", "min_guidance (5.0) must not exceed")),
    "decode chunk 0": (api(decode_chunk_size=0), ("refused", "decode_chunk_size must be between 1 and 64, got 0")),
    "odd size snaps to 64": (api(width=100, height=70), ("ok", lambda r: _aspect(read_mp4(r[1])) == 2.0)),  # 128x64
    "randomize seed": (api(randomize_seed=True), ("ok", lambda r: r[7] != 5)),
    "all multipliers 0": (api(self_structural=0, self_temporal=0, cross_structural=0, cross_temporal=0),
                          ("ok", lambda r: read_mp4(r[2]).shape[0] == 4)),
    "all multipliers 10": (api(self_structural=10, self_temporal=10, cross_structural=10, cross_temporal=10),
                           ("ok", lambda r: read_mp4(r[2]).shape[0] == 4)),
    # /preview API: images
    "no image": (api(image=None), ("refused", "upload an image first")),
    "text file named .png": (api_image(lambda t: _text(t, "notes.png", "not an image")),
                             ("refused", "not an image Pillow can read")),
    "empty file": (api_image(lambda t: _text(t, "empty.png", b"")), ("refused", "not an image Pillow can read")),
    "truncated png": (api_image(lambda t: _text(t, "cut.png", EXAMPLE.read_bytes()[:300])),
                      ("refused", "cannot read the image")),
    "48 megapixels": (api_image(lambda t: _png(Image.new("L", (8000, 6000)), t, "huge.png")),
                      ("refused", "over 40 megapixels are refused")),
    "1x1 pixel": (api_image(lambda t: _png(Image.new("RGB", (1, 1), (200, 10, 10)), t, "dot.png")),
                  ("ok", lambda r: read_mp4(r[1]).shape[0] == 4)),
    "animated gif": (api_image(lambda t: _gif(t)), ("ok", lambda r: read_mp4(r[1]).shape[0] == 4)),
    "cmyk jpeg": (api_image(lambda t: _png(Image.new("CMYK", (40, 30), (0, 200, 200, 0)), t, "c.jpg")),
                  ("ok", lambda r: read_mp4(r[1]).shape[0] == 4)),
    "svg file": (api_image(lambda t: _text(t, "x.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")),
                 ("refused", "cannot read the image")),
    # preset upload
    "valid preset": (upload("preset", lambda t: _text(t, "p.json", _preset())), ("ok", lambda r: r[1] == 0.7)),
    "preset with BOM": (upload("preset", lambda t: _text(t, "p.json", b"\xef\xbb\xbf" + _preset().encode())),
                        ("ok", lambda r: r[1] == 0.7)),
    "preset nested 30000 deep (finding 4)": (upload("preset", lambda t: _text(t, "deep.json", DEEP)),
                                             ("refused", "nested 30000 levels deep")),
    "preset not JSON": (upload("preset", lambda t: _text(t, "p.json", "{name: x")), ("refused", "not valid JSON")),
    "preset binary": (upload("preset", lambda t: _text(t, "p.json", EXAMPLE.read_bytes()[:2000])),
                      ("refused", "not UTF-8 text")),
    "preset too large": (upload("preset", lambda t: _text(t, "p.json", " " * 70_000 + _preset())),
                         ("refused", "larger than 64 KB")),
    "preset is a list": (upload("preset", lambda t: _text(t, "p.json", "[1, 2]")),
                         ("refused", "must be a JSON object")),
    "preset wrong format": (upload("preset", lambda t: _text(t, "p.json", _preset(format="other"))),
                            ("refused", "format must be 'svd-attention-preset'")),
    "preset from the future": (upload("preset", lambda t: _text(t, "p.json", _preset(version=99))),
                               ("refused", "made by a newer version")),
    "preset version as text": (upload("preset", lambda t: _text(t, "p.json", _preset(version="2"))),
                               ("refused", "version must be a positive whole number")),
    "preset multiplier 99": (upload("preset", lambda t: _text(t, "p.json", _preset(multipliers={"self_temporal": 99}))),
                             ("refused", "self_temporal must be between 0.0 and 10.0")),
    "preset multipliers a list": (upload("preset", lambda t: _text(t, "p.json", _preset(multipliers=[1, 2]))),
                                  ("refused", "multipliers must be an object, got a list")),
    "preset unknown field": (upload("preset", lambda t: _text(t, "p.json", _preset(colour="red"))),
                             ("refused", "unknown field(s) colour")),
    "preset seed 1.5": (upload("preset", lambda t: _text(t, "p.json", _preset(settings={"seed": 1.5}))),
                        ("refused", "settings.seed must be a whole number")),
    "preset NaN": (upload("preset", lambda t: _text(t, "p.json", _preset().replace("0.7", "NaN"))),
                   ("refused", "contains NaN")),
    "preset empty name": (upload("preset", lambda t: _text(t, "p.json", _preset(name="  "))),
                          ("refused", "name must not be empty")),
    "preset long name": (upload("preset", lambda t: _text(t, "p.json", _preset(name="n" * 500))),
                         ("refused", "at most 80 are allowed")),
    "preset name with HTML": (upload("preset", lambda t: _text(t, "p.json", _preset(name="<img src=x>"))),
                              ("ok", lambda r: "<img" not in r[-1] and "&lt;img" in r[-1])),
    # ComfyUI import
    "exported workflow": (upload("comfy", lambda t: _text(t, "w.json", _workflow())), ("ok", lambda r: r[1] == 0.6)),
    "nodes is a number (finding 5)": (upload("comfy", lambda t: _text(t, "w.json", '{"nodes": 5}')),
                                      ("refused", "nodes must be a list of objects, got a number")),
    "node is a number": (upload("comfy", lambda t: _text(t, "w.json", '{"nodes": [5]}')),
                         ("refused", "nodes[0] must be an object")),
    "inputs is a number (finding 5)": (upload("comfy", lambda t: _text(t, "w.json", _workflow({"inputs": 5}))),
                                       ("refused", "nodes[0].inputs must be a list or an object")),
    "widget is text (finding 5)": (upload("comfy", lambda t: _text(t, "w.json", _workflow(
        {"inputs": [{"name": "self_temporal", "widget": "oops", "link": None}]}))),
        ("refused", "nodes[0].inputs[0].widget must be an object, got a string")),
    "widgets too few": (upload("comfy", lambda t: _text(t, "w.json", _workflow({"widgets_values": [1.0]}))),
                        ("refused", "widgets_values must list the four multipliers, got 1 values")),
    "widget value text": (upload("comfy", lambda t: _text(t, "w.json", _workflow({"widgets_values": [1, "x", 1, 1]}))),
                          ("refused", "self_temporal must be a number")),
    "multiplier from a link": (upload("comfy", lambda t: _text(t, "w.json", _workflow(
        {"inputs": [{"name": "self_temporal", "widget": {"name": "self_temporal"}, "link": 4}]}))),
        ("refused", "comes from another node")),
    "no node": (upload("comfy", lambda t: _text(t, "w.json", '{"nodes": []}')),
                ("refused", "no UNetTemporalAttentionMultiply node")),
    "api prompt inputs a list": (upload("comfy", lambda t: _text(t, "w.json", json.dumps(
        {"3": {"class_type": "UNetTemporalAttentionMultiply", "inputs": [1]}}))),
        ("refused", "3.inputs must be an object, got a list")),
    "api prompt": (upload("comfy", lambda t: _text(t, "w.json", json.dumps(to_api_node(Multipliers(0.9))))),
                   ("ok", lambda r: r[0] == 0.9)),
    "workflow nested 30000 deep (finding 4)": (upload("comfy", lambda t: _text(t, "w.json", '{"nodes": ' + DEEP + "}")),
                                               ("refused", "nested 30001 levels deep")),
    "10001 nodes": (upload("comfy", lambda t: _text(t, "w.json", json.dumps({"nodes": [{}] * 10_001}))),
                    ("refused", "at most 10,000 are read")),
    "png with workflow": (upload("comfy", lambda t: _comfy_png(t, _workflow())), ("ok", lambda r: r[1] == 0.6)),
    "png without workflow": (upload("comfy", lambda t: _comfy_png(t, None)),
                             ("refused", "carries no ComfyUI workflow")),
    "garbage bytes": (upload("comfy", lambda t: _text(t, "w.webp", b"\x00\x01garbage")),
                      ("refused", "cannot read the image")),
    "real Wan 2.1 workflow": (upload("comfy",
                                     lambda t: REAL / "wan21_text2video_14B_imp__nomadoor_Comfy-with-ComfyUI.json"),
                              ("ok", lambda r: all(isinstance(v, float) for v in r[:4]))),
    # share links (finding 7: nothing from a link reaches the page as HTML)
    "link ok": (link("self_temporal=0.8&seed=3"),
                ("ok", lambda r: r["slider-self_temporal"] == 0.8 and r["seed"] == 3)),
    "link value is HTML (finding 7)": (link("self_temporal=%3Ca%20href%3Dhttps%3A%2F%2Fevil.invalid%2F"
                                            "%3Eclick%3C%2Fa%3E"),
                           ("refused", "must be a number, got '&lt;a href=https://evil.invalid/&gt;click&lt;/a&gt;'")),
    "link key is HTML (finding 7)": (link("%3Cimg%20src%3Dx%3E=1"),
                         ("ok", lambda r: "<img" not in r["message"]
                          and "ignored unknown link parameter '&lt;img src=x&gt;'" in _plain(r["message"]))),
    "link seed 1.5": (link("seed=1.5"), ("refused", "seed must be a whole number")),
    "link seed huge": (link("seed=99999999999"), ("refused", "settings.seed must be between")),
    "link NaN": (link("self_temporal=nan"), ("refused", "must be a finite number")),
    "link inf": (link("cross_temporal=inf"), ("refused", "must be a finite number")),
    "link empty value": (link("self_temporal="), ("refused", "must be a number")),
    "link frames 1e3": (link("frames=1e3"), ("refused", "settings.frames must be between 2 and 50")),
    "link with 5,000 unknown keys": (link("&".join(f"k{n}=1" for n in range(5000)) + "&self_temporal=0.6"),
                                     ("ok", lambda r: r["slider-self_temporal"] == 0.6
                                      and len(_plain(r["message"])) < 200
                                      and "ignored 5,000 unknown link parameters" in _plain(r["message"]))),
    "link memory knob": (link("decode_chunk_size=4"),
                         ("ok", lambda r: "parameter 'decode_chunk_size'" in _plain(r["message"]))),
    "link markdown": (link("name=%5Bx%5D(https%3A%2F%2Fevil.invalid)&self_temporal=0.5"),
                      ("ok", lambda r: r["slider-self_temporal"] == 0.5)),
}


def _aspect(frames: np.ndarray) -> float:
    return frames.shape[2] / frames.shape[1]


def _gif(tmp: Path) -> Path:
    frames = [Image.new("RGB", (32, 32), c) for c in ((200, 0, 0), (0, 200, 0))]
    path = tmp / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    return path


def _run(lab, client, way: str, payload):
    if way == "api":
        return preview(client, **payload)
    if way == "preset":
        return client.predict(handle_file(str(payload)), api_name="/load_preset")
    if way == "comfy":
        return client.predict(handle_file(str(payload)), api_name="/import_comfyui")
    params = dict(p.split("=", 1) for p in payload.split("&"))
    request = SimpleNamespace(query_params={_unquote(k): _unquote(v) for k, v in params.items()})
    outputs = opening(lab, lab.initial(), {}, dict(request.query_params))  # what the page's load event shows
    shown = {getattr(component, "elem_id", None): value for component, value in outputs.items()}
    message = shown["message"]
    assert "<" not in message  # Markdown shown on the page: escaped
    if _plain(message).startswith("Share link not applied"):
        raise ValueError(_plain(message))
    return shown


def _plain(markdown: str) -> str:
    """The text a Markdown-escaped message shows."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _unquote(text: str) -> str:
    import urllib.parse

    return urllib.parse.unquote(text)


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_and_unusual_inputs(server, client, reference, tmp_path, case):
    lab, _ = server
    (way, make), (outcome, expected) = CASES[case]
    if outcome == "ok":
        assert expected(_run(lab, client, way, make(tmp_path)))
    else:
        with pytest.raises(Exception) as raised:
            _run(lab, client, way, make(tmp_path))
        message = str(raised.value)
        assert expected in message, message
        assert "Traceback" not in message and "object is not" not in message and "RecursionError" not in message
        assert "/tmp" not in message and "index" not in message and "Error:" not in message  # no internals
    if way == "api":  # the next ordinary request renders exactly the reference
        assert np.array_equal(read_mp4(preview(client)[2]), reference)


def test_the_table_covers_at_least_sixty_inputs_on_every_way_in():
    ways = [way for (way, _), _ in CASES.values()]
    assert len(CASES) >= 60 and {"api", "preset", "comfy", "link"} == set(ways)


# --- findings 1-3: ordinary files that used to render wrong, as named regressions ---------------------


def _same_render(client, a: Path, b: Path) -> bool:
    return np.array_equal(read_mp4(preview(client, a)[2]), read_mp4(preview(client, b)[2]))


def test_finding_1_a_phone_photo_with_exif_orientation_renders_upright(client, tmp_path):
    upright = Image.open(EXAMPLE).convert("RGB").crop((0, 0, 200, 120)).rotate(90, expand=True)  # portrait
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # the camera stores it landscape ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... and tags it "rotate 90° clockwise to view"
    tagged = _png(stored, tmp_path, "phone.png", exif=exif)
    assert _same_render(client, tagged, _png(upright, tmp_path, "upright.png"))


def test_finding_2_transparent_png_renders_on_white(client, tmp_path):
    rgba = Image.open(EXAMPLE).convert("RGBA")
    alpha = Image.new("L", rgba.size, 0)
    alpha.paste(255, (0, 0, rgba.width // 2, rgba.height))
    rgba.putalpha(alpha)
    on_white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    assert _same_render(client, _png(rgba, tmp_path, "rgba.png"), _png(on_white, tmp_path, "white.png"))
    palette = Image.open(EXAMPLE).convert("RGB").quantize(colors=16)
    palette.paste(0, (0, 0, 20, 20))  # index 0 is the transparent one
    transparent = _png(palette, tmp_path, "p.png", transparency=0)
    indices = np.asarray(Image.open(transparent))
    expected = np.asarray(Image.open(transparent).convert("RGB")).copy()
    expected[indices == 0] = 255
    assert expected[5, 5].tolist() == [255, 255, 255]
    assert _same_render(client, transparent, _png(Image.fromarray(expected), tmp_path, "pw.png"))


def test_finding_3_sixteen_bit_greyscale_renders_as_its_eight_bit_twin(client, tmp_path):
    grey = np.asarray(Image.open(EXAMPLE).convert("L"))
    sixteen = Image.fromarray(grey.astype(np.uint16) * 257)  # the same levels on the 16-bit scale
    assert sixteen.mode == "I;16"
    assert _same_render(client, _png(sixteen, tmp_path, "g16.png"), _png(Image.fromarray(grey), tmp_path, "g8.png"))


# --- the concurrency soak ---------------------------------------------------------------------------


def test_four_clients_get_exactly_their_solo_renders(server):
    _, url = server
    cases = [{"self_temporal": 0.0, "seed": 20}, {"self_temporal": 2.0, "seed": 21},
             {"cross_structural": 0.5, "seed": 22}, {"cross_temporal": 3.0, "seed": 23}]
    solo = [read_mp4(preview(connect(url), **c)[2]) for c in cases]
    assert len({video.tobytes() for video in solo}) == len(cases)  # a mix-up would show
    start = threading.Barrier(len(cases))
    deadline = time.monotonic() + 60

    def client_loop(i: int) -> int:
        c = connect(url)
        start.wait()
        mismatches = 0
        for round_ in range(3):
            if time.monotonic() > deadline:
                break
            case = cases[(i + round_) % len(cases)]
            mismatches += not np.array_equal(read_mp4(preview(c, **case)[2]), solo[cases.index(case)])
        return mismatches

    with ThreadPoolExecutor(len(cases)) as pool:
        assert sum(pool.map(client_loop, range(len(cases)))) == 0
