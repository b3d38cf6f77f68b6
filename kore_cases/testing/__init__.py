"""Test helpers for code that talks to Kore.ai's getCases API.

``FakeKoreServer`` is a local aiohttp server that behaves like the real endpoint (JWT ``auth``
header, ``accountId`` header, filters, sorting, page/skip paging, Kore-style errors) over
deterministic, realistic cases, with knobs for latency, rate limits, data changing mid-pull and
injected faults. It serves our own tests, demos and benchmarks, and your integration tests::

    from kore_cases.testing import FakeKoreServer

    async with FakeKoreServer(cases=500, rate_limits=[(600, 60.0)]) as server:
        server.schedule_faults(2, "503", "reset")  # page 2 fails twice, then succeeds
        ...  # point the client at server.url, server.stream_id, server.account_id
        assert server.stats.attempts_per_page[2] == 3
"""

from ._data import CURRENT_USER_ID
from ._server import FAULT_KINDS, FakeKoreServer, Fault, RequestRecord, ServerStats

__all__ = [
    "CURRENT_USER_ID",
    "FAULT_KINDS",
    "FakeKoreServer",
    "Fault",
    "RequestRecord",
    "ServerStats",
]
