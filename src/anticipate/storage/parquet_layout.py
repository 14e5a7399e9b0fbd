"""Arrow's Parquet writer options for a table's layout: none of them changes the values read back."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any


def parquet_options(columns: Iterable[Any], dictionary_bytes: int | None, plain: Collection[str],
                    statistics: Collection[str] | None) -> dict[str, Any]:
    """Arrow's Parquet writer options for a table of ``columns`` (none given: Arrow's defaults).

    ``dictionary_bytes``: the size (bytes) past which a column chunk's dictionary stops growing and
    the rest is stored plain. ``plain``: columns stored without a dictionary (values mostly distinct:
    the writer would hash them into a dictionary that overflows). ``statistics``: the only columns
    given min/max statistics (all when None).
    """
    columns = [str(c) for c in columns]
    opts: dict[str, Any] = {}
    if dictionary_bytes is not None:
        opts["dictionary_pagesize_limit"] = int(dictionary_bytes)
    if plain:
        opts["use_dictionary"] = [c for c in columns if c not in set(plain)]
    if statistics is not None:
        opts["write_statistics"] = [c for c in columns if c in set(statistics)]
    return opts
