"""Launch the app in-process on a free port, on the embedded demo model."""

from __future__ import annotations

import importlib
import os
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(output_dir: str):
    os.environ["SVD_MODEL"] = ""
    os.environ["SVD_LAB_OUTPUT_DIR"] = output_dir
    import app

    app = importlib.reload(app)  # fresh model holder and output folder for this server
    demo = app.build_demo()
    demo.queue(max_size=16)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size=app.MAX_UPLOAD, show_error=True)
    return app, demo, f"http://127.0.0.1:{port}/"
