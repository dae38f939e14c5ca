"""WebSocket longevity: 100 sockets held open for an hour with heartbeats, none dropped.

What it proves: the service keeps idle-but-alive connections indefinitely: every socket is
pinged (a WebSocket ping, answered with a pong by the server) every 10 s, the round trip is
`ws_ping`, and no socket is closed by the server or the network
(`ws_unexpected_disconnects` must stay 0). A socket that drops is reconnected so the
count of held sockets stays at 100, and every drop is counted.

    loadgen run scenarios/websocket_longevity.py --thresholds thresholds/websocket_longevity.yaml
    loadgen run scenarios/websocket_longevity.py --vus 20 --duration 30s \\
        --thresholds thresholds/websocket_longevity.yaml

`--vus` sets the number of sockets, `--duration` the hold; pings come at least 5 times per
hold (every 10 s, or more often in a short run).
"""

from __future__ import annotations

import itertools
import time
from typing import Any, ClassVar

from common import HeldSockets, auth, login, reconnect_backoff, username

from loadgen import ConstantVUs, Shape
from loadgen.net.ws import WSError
from loadgen.options import parse_duration

_slots = itertools.count()


class WebsocketLongevity(HeldSockets):
    kind = "longevity"
    sockets = 100
    duration = "1h"
    ping_every: ClassVar[float] = 10.0

    @classmethod
    def shape(cls, o: Any) -> Shape:
        shape = super().shape(o)
        assert isinstance(shape.executor, ConstantVUs)
        hold_s = parse_duration(shape.executor.duration) / 1e9
        cls._run_ping = min(cls.ping_every, max(0.2, hold_s / 5))
        return shape

    async def iteration(self, vu: Any) -> None:
        if not hasattr(self, "token"):
            token = await login(vu, username("holder", next(_slots)))
            if token is None:
                await vu.sleep(1.0)
                return
            self.token = token
        backoff = reconnect_backoff(self)
        try:
            session = await vu.ws.connect("/v1/ws", headers=auth(self.token))
        except WSError:
            await backoff.pause(vu)  # counted in ws_errors; retried, not spun
            return
        t0 = time.monotonic()
        async with session:
            every = getattr(type(self), "_run_ping", self.ping_every)
            await session.hold(ping_every=every, ping_timeout=5.0)
        await backoff.after_session(vu, time.monotonic() - t0)  # a drop at once backs off
