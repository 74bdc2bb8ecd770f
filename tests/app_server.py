"""Launch the app in-process on a free port, on the embedded demo model."""

from __future__ import annotations

import socket

import app
from svd_attention_lab import engine, hosting, outputs


def connect(url: str):
    """An API client of the app at ``url`` (plain http on this machine).

    ``ssl_verify=False`` only spares the client loading the certificate bundle, which it would
    otherwise do for every file it downloads (25 ms each): there is no TLS to verify here.
    """
    from gradio_client import Client

    return Client(url, verbose=False, ssl_verify=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(output_dir: str, model: str | None = None, gpu=None, budget_s: float | None = None,
               preload: bool = False):
    """A fresh app (its own model holder and output folder); returns (page, demo, url): ``page`` is the
    app's ``ui.Page``, whose ``studio`` renders."""
    studio = hosting.Studio(engine.ModelHolder(model), outputs.OutputDir(output_dir), gpu=gpu, budget_s=budget_s)
    demo = app.build_demo(studio)
    if preload:  # what --preload (always on Spaces) does before the server starts
        app.preload(demo)
    demo.queue(max_size=16)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **app.launch_options(studio))
    return demo.lab_page, demo, f"http://127.0.0.1:{port}/"


def outputs_by_name(demo, api_name: str, result) -> dict:
    """An API call's outputs by their components' ``elem_id`` (or label), not by position."""
    config = demo.get_config_file()
    names = {c["id"]: c["props"].get("elem_id") or c["props"].get("label") for c in config["components"]
             if c["type"] != "state"}  # a client receives no State
    dependency = next(d for d in config["dependencies"] if d.get("api_name") == api_name.lstrip("/"))
    result = result if isinstance(result, (list, tuple)) else (result,)
    return dict(zip((names[i] for i in dependency["outputs"] if i in names), result, strict=True))
