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

``MockTransport`` answers a client's requests with a function instead, without a server
or a socket, for tests that need only canned answers::

    client = CasesClient(..., transport=MockTransport(lambda request: Response(503)))

Cases of the fake server change while it runs, for testing code that watches or syncs
them (``updatedAt`` moves past every earlier timestamp on each change, ``createdAt`` of a
new case past everything served)::

    ids = server.create_cases(3)                   # newest first in the next answer
    server.update_case(ids[0], status="In Progress", priority="High", assignee="Maya Chen")
    server.resolve_case(ids[1])                    # leaves ``unresolved=True`` answers
    server.delete_case(ids[2])                     # in no answer any more
    late = server.create_cases(1, hidden=True)     # indexed late: listed only after
    server.reveal_case(late[0])                    # ...reveal, with its older createdAt
    async with Churn(server, per_second=5): ...    # random creates/changes/resolves

The same is reachable over HTTP under ``/_admin`` (see ``kore_cases.testing._admin``), for
``kore-cases serve`` driven from another process.
"""

from ._admin import ADMIN_PREFIX
from ._churn import Churn
from ._data import CURRENT_USER_ID
from ._mock import MockTransport
from ._server import FAULT_KINDS, FakeKoreServer, Fault, RequestRecord, ServerStats

__all__ = [
    "ADMIN_PREFIX",
    "CURRENT_USER_ID",
    "FAULT_KINDS",
    "Churn",
    "FakeKoreServer",
    "Fault",
    "MockTransport",
    "RequestRecord",
    "ServerStats",
]
