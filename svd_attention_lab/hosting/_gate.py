"""The way to the model: one render at a time, in arrival order, and a fair share of the wait for each
visitor (session), so one visitor's burst of requests cannot fill the queue for everyone else.

Gradio's queue is one line for all visitors with one size limit; the app lets the model's events
through it at once and waits here instead, where the wait is per session: a session may have
``per_session`` requests waiting or rendering, and the next is refused at once with a message,
while another visitor's request still joins the line. A waiting request that is withdrawn (Stop, a
closed tab) leaves the line without ever starting.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Callable, Iterator

from svd_attention_lab.engine import PreviewError, RenderCancelled

PER_SESSION = 2  # requests one visitor may have waiting or rendering
_POLL_S = 0.1  # how often a waiting request checks whether it was withdrawn


class QueueFull(PreviewError):
    """This visitor already has their share of the line."""


class RenderWithdrawn(RenderCancelled):
    """A waiting request left the line (Stop, a closed tab) before it started: nothing was rendered."""


class Gate:
    def __init__(self, per_session: int = PER_SESSION) -> None:
        self.per_session = per_session
        self._line: collections.deque[object] = collections.deque()  # tickets, first one renders
        self._held: collections.Counter[str] = collections.Counter()  # per session: waiting or rendering
        self._changed = threading.Condition()

    def waiting(self) -> int:
        """Requests in line behind the one rendering."""
        with self._changed:
            return max(0, len(self._line) - 1)

    @contextlib.contextmanager
    def turn(self, session: str, withdrawn: Callable[[], bool] | None = None) -> Iterator[None]:
        """Wait for ``session``'s turn at the model (refused at once past its share), then hold it."""
        ticket = object()
        with self._changed:
            if self._held[session] >= self.per_session:
                raise QueueFull(f"you already have {self._held[session]} renders waiting or running (at most "
                                f"{self.per_session} per visitor): wait for them, or press Stop")
            self._held[session] += 1
            self._line.append(ticket)
            try:
                while self._line[0] is not ticket:
                    if withdrawn is not None and withdrawn():
                        raise RenderWithdrawn("withdrawn before it started")
                    self._changed.wait(_POLL_S)
            except BaseException:
                self._leave(session, ticket)
                raise
        try:
            yield
        finally:
            with self._changed:
                self._leave(session, ticket)

    def _leave(self, session: str, ticket: object) -> None:
        self._line.remove(ticket)
        self._held[session] -= 1
        if not self._held[session]:
            del self._held[session]
        self._changed.notify_all()
