"""ZeroGPU's process model, for tests: each call runs in a freshly forked child process.

Like ZeroGPU's worker, the child inherits what the app loaded before the call, receives arguments
that must pickle, and sends back only its pickled return value; nothing it changes in memory comes
back. Stricter than ZeroGPU (whose worker may serve several calls): a new child every call.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from typing import Callable


class ForkPerCall:
    isolated = True  # preview passes no progress or cancel callbacks into another process

    def __init__(self, fn: Callable, probe: Callable[[tuple], Callable[[], dict]] | None = None) -> None:
        """``probe(args)`` runs in the child before ``fn`` and returns a function giving a report after it."""
        self.fn = fn
        self.probe = probe
        self.reports: list[dict] = []  # one per call, made in the child, kept in the parent

    def __call__(self, *args, **kwargs):
        pickle.dumps((args, kwargs))  # ZeroGPU sends the arguments to its worker: they must pickle
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=self._child, args=(send, args, kwargs), daemon=True)
        child.start()
        send.close()
        try:
            status, value, report = receive.recv()
        except EOFError:
            raise RuntimeError("the GPU worker process died") from None
        finally:
            child.join()
        self.reports.append(report)
        if status == "error":
            raise value
        return value

    def _child(self, send, args, kwargs) -> None:
        import torch

        # The parent's OpenMP threads do not survive a fork, and torch's CPU kernels would wait on them
        # forever; a real ZeroGPU worker computes on the GPU instead.
        torch.set_num_threads(1)
        try:
            finish = self.probe(args) if self.probe else (lambda: {})
            try:
                value, status = self.fn(*args, **kwargs), "ok"
            except Exception as exc:  # goes back to the caller, as ZeroGPU re-raises it there
                value, status = exc, "error"
            send.send((status, value, {"pid": os.getpid(), **finish()}))
        finally:
            send.close()
