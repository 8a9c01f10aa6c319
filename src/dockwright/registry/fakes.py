"""Fakes for the registry client's seams: a clock that never sleeps.

The network seam's fake is httpx's own ``httpx.MockTransport``; the credentials seam's is
:class:`~dockwright.registry.credentials.StaticKeychain`.
"""

from __future__ import annotations


class FakeClock:
    """A :class:`~dockwright.registry.transport.Clock` whose ``sleep`` only moves time on.

    ``sleeps`` records every requested wait, for assertions on backoff.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The fake time."""
        return self.now

    def time(self) -> float:
        """The fake time, as epoch seconds."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` and advance the fake time by them."""
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        """Move time on without a recorded sleep."""
        self.now += seconds
