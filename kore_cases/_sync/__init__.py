"""Incremental sync of the cases matching a filter to a local, hive-partitioned Parquet dataset.

``await client.sync(DIR, filter)`` and ``kore-cases sync DIR`` keep ``DIR`` equal to
the server's set of cases matching the filter, reading only what may have changed since
the last run. Modules, one concern each:

* :mod:`._plan` (pure): which ranges a run reads, and the probe windows;
* :mod:`._state`: the JSON state file, replaced atomically;
* :mod:`._dataset`: the month files, merged and replaced atomically;
* :mod:`._table`: cases as Arrow tables (the flat export columns plus ``raw``);
* :mod:`._keys`: the few fields of a case sync reads, and month arithmetic;
* :mod:`._runner`: one run's pulls, through the public client;
* :mod:`._merge`: the cases received, classified and merged into their months;
* :mod:`._meter`: a run's request and case counts, and its progress reports;
* :mod:`._report`: progress and the summary.
"""

from ._report import SyncProgress, SyncSummary
from ._runner import run_sync
from ._state import SyncStateError

__all__ = ["SyncProgress", "SyncStateError", "SyncSummary", "run_sync"]
