"""Ports for the servers tests start."""

from __future__ import annotations

import os
import random
import socket
import time

# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for "port 0" can be
# taken by any outgoing connection (a database client, an HTTP probe) before the server that
# was meant to listen on it binds it, which once failed the topology's start.
_PORTS = range(20000, 32000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on and this test run has not handed out before."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1000):
        port = rng.choice(_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port")
