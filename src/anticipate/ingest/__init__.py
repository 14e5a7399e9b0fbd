"""Ingest: source files -> the canonical tables of docs/data-contract.md#input-tables, nothing lost.

Pieces (I/O at the edges, rules pure):

- :mod:`~anticipate.ingest.read`: file checks, format/delimiter sniffing, chunked reading;
- :mod:`~anticipate.ingest.columns`: which source column feeds which canonical column;
- :mod:`~anticipate.ingest.parse`: vectorised typed parsing with a reason per bad value;
- :mod:`~anticipate.ingest.validate`: the rules, ``validate_chunk(table, Chunk, Context) -> Checked``;
- :mod:`~anticipate.ingest.dedup`: exact-duplicate lines in bounded memory;
- :mod:`~anticipate.ingest.engine`: one file streamed through all of the above;
- :mod:`~anticipate.ingest.append`: ``--append``, new order lines after the existing ones;
- :mod:`~anticipate.ingest.update`: the tables an ingest is not given, kept from the previous directory;
- :mod:`~anticipate.ingest.report`, :mod:`~anticipate.ingest.messages`: what the user is told.

Conventions: ``row`` is the 1-based data row of the source (the first record after
the header is row 1; blank lines are not rows); every input row is accepted or
rejected exactly once, so rows_in = rows_accepted + rows_rejected; timestamps are
naive UTC ``timestamp[ns]`` within [1970-01-01, 2262-04-11).
"""

from __future__ import annotations

from anticipate.ingest.engine import Options, RejectSink, TableReport, ingest_table
from anticipate.ingest.validate import Checked, Chunk, Context, validate_chunk

#: The order in which tables are ingested: reference tables first, so orders can be checked.
TABLE_ORDER = ("products", "regions", "warehouses", "supply", "orders")

__all__ = ["TABLE_ORDER", "Checked", "Chunk", "Context", "Options", "RejectSink", "TableReport",
           "ingest_table", "validate_chunk"]
