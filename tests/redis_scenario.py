"""One worker process of the two-process store test: pull everything, print cases and 429s.

Usage: python redis_scenario.py SERVER_URL STORE_URL MAX_REQUESTS SECONDS
"""

from __future__ import annotations

import asyncio
import sys

from kore_cases import CasesClient, JwtAuth, RateLimit
from kore_cases.testing import FakeKoreServer


async def main(url: str, store: str, count: int, seconds: float) -> None:
    defaults = FakeKoreServer()  # the credentials a FakeKoreServer accepts by default
    async with CasesClient(
        url,
        defaults.stream_id,
        defaults.account_id,
        JwtAuth(defaults.client_id, defaults.client_secret),
        rate_limit=RateLimit((count, seconds), store=store),
    ) as client:
        cases = client.iter_cases()
        pulled = [case.id async for case in cases]
    print(len(pulled), cases.stats.rate_limited)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
