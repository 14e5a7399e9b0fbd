"""Which source column feeds which canonical column: config mapping first, then aliases.

Names are compared by the rule of :mod:`anticipate.column_names` (exact, then lower case with only
letters and digits, then without a unit in brackets), so ``Customer ID``, ``customer_id`` and
``CustomerID`` are the same name. A mapping given in config (``ingest.columns.<table>``) must name a
column that exists.
"""

from __future__ import annotations

from anticipate.column_names import Names as _Names
from anticipate.column_names import normalise
from anticipate.errors import ConfigError, DataError
from anticipate.ingest.sniff import listing
from anticipate.schema import ALIASES, EXTRA_INPUTS, TABLES

__all__ = ["ALIASES", "EXTRA_INPUTS", "account", "allowed_inputs", "check_mapping", "normalise",
           "resolve"]


def allowed_inputs(table: str) -> list[str]:
    """The canonical columns of ``table`` plus its extra inputs (``amount`` for orders)."""
    return [c.name for c in TABLES[table]] + list(EXTRA_INPUTS.get(table, ()))


def check_mapping(table: str, mapping: dict[str, str]) -> None:
    """Refuse config keys that are not canonical columns of ``table`` (ConfigError)."""
    allowed = allowed_inputs(table)
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"ingest.columns.{table}.{key}: '{key}' is not a column of {table} "
                f"(allowed: {', '.join(allowed)}); map canonical name -> source column name"
            )


def resolve(table: str, header: list[str], mapping: dict[str, str], *, file: str) -> dict[str, int]:
    """Map each canonical input column to the index of the source column that feeds it.

    Parameters
    ----------
    table
        Canonical table name (``orders``, ``products``, ...).
    header
        The source column names, in file order.
    mapping
        ``ingest.columns.<table>``: canonical name -> source column name (takes precedence).
    file
        The source path, for messages.

    Returns
    -------
    dict
        canonical name -> 0-based source column index, for the columns found.

    Raises
    ------
    DataError
        A mapped source column is absent, or a required canonical column has no source.
    ConfigError
        Two canonical columns are mapped to the same source column.
    """
    check_mapping(table, mapping)
    names = _Names(header)
    found: dict[str, int] = {}
    levels: dict[str, int] = {}  # how each was matched: a mapping as said, an alias at least normalised
    for canonical, source in mapping.items():
        hit = names.match(source)
        if hit is None:
            raise DataError(
                f"ingest.columns.{table}.{canonical} (or --map {table}.{canonical}=...) maps to '{source}', "
                f"which is not a column of this file (columns found: {listing(header, 30)}); fix the name",
                file=file, column=source,
            )
        _refuse_shared_source(table, found, canonical, hit[0], header)
        found[canonical], levels[canonical] = hit
    taken = set(found.values())
    for canonical, aliases in ALIASES[table].items():
        if canonical in found:
            continue
        for alias in aliases:
            hit = names.match(alias, taken)
            if hit is not None:
                found[canonical], levels[canonical] = hit[0], max(hit[1], 1)
                taken.add(hit[0])
                break
    _require(table, header, found, file)
    _refuse_twins(table, header, names, found, levels, file)
    return found


def _refuse_twins(table: str, header: list[str], names: _Names, found: dict[str, int],
                  levels: dict[str, int], file: str) -> None:
    """DataError when the column feeding a canonical column is named twice in the header (``quantity``
    twice, or ``quantity`` and ``Quantity``) and the other one feeds nothing: reading the first and
    ignoring the other would decide in silence which of the two is the table's."""
    used = set(found.values())
    for canonical, index in found.items():
        twins = [i for i in names.twins(index, levels[canonical]) if i not in used]
        if not twins:
            continue
        first, second = sorted((index, twins[0]))
        same = header[first] == header[second]
        shown = repr(header[index]) if same else f"{header[first]!r} and {header[second]!r}"
        choose = ("delete the wrong one, or rename one of them" if same else
                  f"say which one is right with --map {table}.{canonical}=<name> (or "
                  f"ingest.columns.{table}), or delete the wrong one")
        raise DataError(
            f"the header names the same column twice: {shown} (fields {first + 1} and {second + 1}), both "
            f"{table}.{canonical}; ingest would read field {index + 1} and ignore the other, so which one "
            f"is right would be decided in silence: {choose}, and run again",
            file=file, column=header[index],
        )


def _refuse_shared_source(table: str, found: dict[str, int], canonical: str, index: int,
                          header: list[str]) -> None:
    """ConfigError when ``canonical`` is mapped to a source column another mapped column already reads:
    both would get the same values (customer ids as SKUs) without a word."""
    other = next((name for name, i in found.items() if i == index), None)
    if other is not None:
        raise ConfigError(
            f"ingest.columns.{table}.{other} and ingest.columns.{table}.{canonical} (or --map "
            f"{table}.{other}=... and --map {table}.{canonical}=...) both map to the source column "
            f"'{header[index]}'; a source column feeds one column only: map each to its own source column"
        )


def account(table: str, header: list[str], found: dict[str, int]
            ) -> tuple[dict[str, str], dict[str, object], list[str]]:
    """Where every column went: mapped (source -> canonical), defaulted, ignored.

    Returns
    -------
    tuple
        ``mapped`` source name -> canonical name; ``defaulted`` canonical name -> the
        value every row gets for a column with no source (None: null); ``ignored`` the
        source columns that feed nothing, in file order.
    """
    mapped = {header[i]: canonical for canonical, i in sorted(found.items(), key=lambda kv: kv[1])}
    defaulted: dict[str, object] = {c.name: c.default for c in TABLES[table] if c.name not in found}
    if table == "orders" and "unit_price" in defaulted and "amount" in found:
        defaulted.pop("unit_price")  # computed from the amount
    used = set(found.values())
    ignored = [name for i, name in enumerate(header) if i not in used]
    return mapped, defaulted, ignored


def _require(table: str, header: list[str], found: dict[str, int], file: str) -> None:
    missing = [c.name for c in TABLES[table] if c.required and c.name not in found]
    if not missing:
        return
    name = missing[0]
    example = ", ".join(f"{m}: <your column>" for m in missing)
    aliases = ", ".join(ALIASES[table][name][1:4])
    hint = (" Only one column was found: is the delimiter one of , ; TAB | and the same on every line?"
            if len(header) == 1 else "")
    raise DataError(
        f"required column '{name}' of the {table} table was not found (missing: {', '.join(missing)}; "
        f"columns found: {listing(header, 30)}). Rename the source column to '{name}' (or a known alias "
        f"such as {aliases}), or map it: --map {table}.{name}=<your column>, or in the config "
        f"ingest: {{columns: {{{table}: {{{example}}}}}}}.{hint}",
        file=file, column=name,
    )
