"""Files that are not CSV or Parquet, told apart by their first bytes.

Ingest reads CSV (optionally gzip) and Parquet. Anything else was read as CSV and failed on
its header ("required column 'customer_id' ... not found; columns found: 'BZh91AY&SY...'"),
which sends the user after a column mapping. :func:`foreign_format` names the format instead,
so the message can say how to convert it.
"""

from __future__ import annotations

import re

#: Leading bytes of formats a shop's export may come in, each with the fix ingest suggests.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK", "a zip archive or an Excel workbook (.xlsx): unzip it, or export the sheet as CSV (UTF-8)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls): export the sheet as CSV (UTF-8)"),
    (b"BZh", "bzip2-compressed: decompress it (bunzip2) or compress it with gzip instead"),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it (unxz) or compress it with gzip instead"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it (unzstd) or compress it with gzip instead"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive: extract the CSV or Parquet file from it"),
    (b"ARROW1", "an Arrow IPC (Feather) file: write it as Parquet (pyarrow.parquet.write_table)"),
    (b"ORC", "an ORC file: write it as Parquet or CSV"),
    (b"SQLite format 3\x00", "an SQLite database: export the table as CSV or Parquet"),
)

#: An object with a quoted key, or an array of values: not a header such as ``[OrderID],[Customer]``
#: (SQL Server's bracketed names), which is CSV.
_JSON_START = re.compile(rb'\s*(\{\s*"|\[\s*([\{\["\d\]-]|$))')


def foreign_format(head: bytes) -> str | None:
    """What ``head`` (a file's first bytes, decompressed) is when it is neither CSV text nor
    Parquet, with the fix, or None. JSON (an object or array first, or JSON lines) counts as
    foreign: its records are not delimited lines."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"this is {what}"
    if _JSON_START.match(head.removeprefix(b"\xef\xbb\xbf")):
        return ("this is JSON, not CSV: convert it, e.g. pandas.read_json(path, lines=True)"
                ".to_parquet('orders.parquet'), and pass the Parquet file")
    return None
