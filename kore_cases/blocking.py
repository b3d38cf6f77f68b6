"""A blocking client for scripts and notebooks: the async client on a private event loop.

::

    from kore_cases import CaseFilter
    from kore_cases.blocking import CasesClient

    with CasesClient.from_env() as client:
        print(client.count(CaseFilter(unresolved=True)))
        for case in client.iter_cases(CaseFilter(priority=["high"])):
            print(case.ref_id)

It takes the same constructor as :class:`kore_cases.CasesClient` and runs one: opening
it starts an event loop in a background thread (one per client, for the client's
life), and every call runs there while the calling thread waits. So it works where a
loop is already running in the calling thread, as in Jupyter, and a pull keeps its
concurrency, prefetch window, budget and resume. Leaving a ``for`` loop early
(``break``, an exception) cancels the pull's fetches, as leaving ``async for`` does;
Ctrl-C while a call waits cancels that call. Closing the client cancels what still
runs, closes the session and ends the thread.

Do not call it from its own loop's thread (from an event hook, say): that would wait
for itself; it raises :class:`RuntimeError` instead.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING

from ._blocking_loop import BackgroundLoop, PullIterator
from ._blocking_pulls import BlockingPullMethods
from ._blocking_tables import BlockingTableMethods
from ._client import CasesClient as AsyncCasesClient
from .auth import Auth

if TYPE_CHECKING:
    from ._settings import CallOptions, ClientOptions, EnvOptions

    if sys.version_info >= (3, 11):
        from typing import Unpack
    else:
        from typing_extensions import Unpack

__all__ = ["CasesClient", "PullIterator"]

# The methods live in small bases by job, each running the async client's method of the
# same name on the background loop: _blocking_pulls.py (get_page, count, iter_pages,
# iter_cases) and _blocking_tables.py (iter_record_batches, to_arrow, sync), over
# _blocking_loop.py (the loop, the calls and pulls bridged to it, PullIterator).


class CasesClient(BlockingPullMethods, BlockingTableMethods):
    """Blocking client of the Get Cases API; see the module documentation.

    Takes the same arguments as :class:`kore_cases.CasesClient` (:class:`ClientOptions`)
    and checks them at once. Use it as ``with CasesClient(...) as client:`` (or
    :meth:`open` and :meth:`close`). :attr:`async_client` is the client it drives, whose
    read-only properties tell its configuration.
    """

    def __init__(
        self,
        host: str,
        stream_id: str,
        account_id: str,
        auth: Auth | str,
        **options: Unpack[ClientOptions],
    ) -> None:
        self._client = AsyncCasesClient(host, stream_id, account_id, auth, **options)
        self._loop = BackgroundLoop()
        self._owns_loop = True

    @classmethod
    def from_env(cls, **options: Unpack[EnvOptions]) -> CasesClient:
        """Build a client from ``KORE_*`` variables, as :meth:`kore_cases.CasesClient.from_env`."""
        return cls._around(AsyncCasesClient.from_env(**options), BackgroundLoop(), owns_loop=True)

    @classmethod
    def _around(
        cls, client: AsyncCasesClient, loop: BackgroundLoop, *, owns_loop: bool
    ) -> CasesClient:
        blocking = object.__new__(cls)
        blocking._client, blocking._loop, blocking._owns_loop = client, loop, owns_loop
        return blocking

    @property
    def async_client(self) -> AsyncCasesClient:
        """The async client this one runs (``host``, ``timeout``, ``retry``... read-only)."""
        return self._client

    def with_options(self, **options: Unpack[CallOptions]) -> CasesClient:
        """A view with other per-call options sharing the session, budget and loop.

        See :meth:`kore_cases.CasesClient.with_options`; closing a view does nothing.
        """
        return self._around(self._client.with_options(**options), self._loop, owns_loop=False)

    # -- lifecycle ------------------------------------------------------------------

    def open(self) -> CasesClient:
        """Start the background loop and open the HTTP session; ``with`` does this."""
        self._loop.start().call(self._client.open)
        return self

    def close(self) -> None:
        """Cancel running pulls, close the session and end the loop's thread.

        Safe to call more than once; on a view made by :meth:`with_options` it does
        nothing (the session and loop belong to the client the view was made from).
        """
        if not self._owns_loop or self._loop.closed:
            return
        portal = self._loop.portal
        try:
            if portal is not None:
                portal.call(self._client.aclose)
        finally:
            self._loop.stop()

    def __enter__(self) -> CasesClient:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"blocking.{self._client!r}"
