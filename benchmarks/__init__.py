"""kore-cases benchmarks: ``python -m benchmarks`` (``--quick``, ``--only NAME``).

How kore-cases compares with what a user would write instead: decode, latency-bound and
CPU-bound pulls, memory, rate limits and auth. See ``benchmarks/RESULTS.md``.
"""
