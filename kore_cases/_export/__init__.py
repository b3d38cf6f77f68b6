"""Writing pulled cases to JSONL, CSV or Parquet, atomically, resumably, in bounded memory.

No argument parsing and no HTTP here: :class:`CaseExport` takes case dicts (as
``iter_pages(model=dict)`` yields them) and turns them into a file.

Formats:

* ``jsonl``: one case per line, every field exactly as the API sent it.
* ``csv`` and ``parquet``: one flat row per case, with the columns in :data:`COLUMNS`
  followed by one column per case field, named ``field:<metaData.name>`` (e.g.
  ``field:dueDate``) and holding its ``selectedValue``. The field columns are only
  known once every case has been seen, so rows are first spooled as JSONL and the table
  is written from the spool in a second pass: memory stays bounded whatever the size of
  the export. Parquet is written in row groups of ``row_group_size`` rows.

The columns and their Arrow types are those of :mod:`kore_cases.tables` (the schema of
``to_arrow()`` too). CSV writes them as text: times as ISO-8601 (``due_at`` converted
from epoch ms), lists joined with ``"; "``, booleans as ``true``/``false``, field values
that are not strings as JSON; a missing value is an empty cell.

Files, and resuming them. An export to ``FILE`` never writes ``FILE`` until it is
complete. While it runs, the cases go to ``FILE.partial`` beside it: the JSONL itself
for ``jsonl``, the spool of flat rows (JSONL too) for ``csv`` and ``parquet``. The caller
calls :meth:`CaseExport.end_page` after each page; the record ``FILE.partial.json``
(see :class:`Partial`) then says how many bytes of the partial hold complete pages and
at which page the pull continues. It is rewritten at the first page boundary and at
most once a second after that, so even a killed process leaves a partial that can be
continued from its last record.

* Complete: ``FILE`` is built from the partial (for JSONL the partial is renamed) and
  moved into place with :func:`os.replace`; both side files are removed.
* Failed or interrupted (any exception, ``KeyboardInterrupt`` and cancellation
  included): the partial is cut back to the end of the last complete page, its record
  is written, and both are kept; :attr:`CaseExport.kept` describes them. An export
  that completed no page removes its partial instead. ``FILE`` is left as it was.
* Continued: ``CaseExport(FILE, fmt, resume=read_partial(FILE))`` appends to the
  partial; :attr:`CaseExport.resumed_hashes` holds the hashes of the ids it already
  has, so that a pull that starts early (the data moved) skips them.

An export to a stream (standard output) writes JSONL straight through and a table at
the end; it keeps nothing when it fails.
"""

from ._case_export import CaseExport
from ._formats import FORMATS, ExportFormat, MissingExtraError, format_for_path
from ._partial import Partial, PartialError, discard_partial, partial_path, read_partial
from ._rows import COLUMNS, flat_row
from ._target import TargetBusyError, TargetLock, resolve_target, writes_through

__all__ = [
    "COLUMNS",
    "FORMATS",
    "CaseExport",
    "ExportFormat",
    "MissingExtraError",
    "Partial",
    "PartialError",
    "TargetBusyError",
    "TargetLock",
    "discard_partial",
    "flat_row",
    "format_for_path",
    "partial_path",
    "read_partial",
    "resolve_target",
    "writes_through",
]
