"""How a column name in a file is matched to a canonical name: the one rule of ``ingest`` and ``solve``.

Names are compared exactly, then normalised (lower case, only letters and digits: ``Customer ID``,
``customer_id`` and ``CustomerID`` are one name), then normalised without a unit in parentheses or
brackets (``Capacity (m3)`` is ``capacity``). A unit is not converted: it is only ignored in the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A unit in parentheses or brackets, and what a normalised name drops: the rule's two patterns, which
#: :mod:`anticipate.ingest.headerrows` applies to Arrow text too.
UNIT = r"[\(\[][^\)\]]*[\)\]]"
NOT_IN_NAME = r"[^0-9a-z]"


def normalise(name: str, *, units: bool = True) -> str:
    """A column name reduced to lower-case letters and digits (``Customer ID`` -> ``customerid``);
    with ``units=False`` a unit in parentheses or brackets goes too (``Volume (l)`` -> ``volume``)."""
    if not units:
        name = re.sub(UNIT, " ", name)
    return re.sub(NOT_IN_NAME, "", name.lower())


class Names:
    """Look a name up among a header: exact, then normalised, then normalised without units."""

    def __init__(self, header: list[str]) -> None:
        self.levels: list[dict[str, int]] = [{}, {}, {}]
        self.keys = [(name, normalise(name), normalise(name, units=False)) for name in header]
        for i, keys in enumerate(self.keys):
            for level, key in enumerate(keys):
                if key:
                    self.levels[level].setdefault(key, i)

    def find(self, name: str, taken: set[int] = frozenset()) -> int | None:  # type: ignore[assignment]
        """The index of the header's column that is ``name`` (None: none, or only ``taken`` ones)."""
        found = self.match(name, taken)
        return found[0] if found else None

    def match(self, name: str, taken: set[int] = frozenset()) -> tuple[int, int] | None:  # type: ignore[assignment]
        """(index, level) of the header's column that is ``name``: level 0 exact, 1 normalised, 2
        normalised without units (None: none, or only ``taken`` ones)."""
        for level, key in enumerate((name, normalise(name), normalise(name, units=False))):
            index = self.levels[level].get(key)
            if index is not None and index not in taken:
                return index, level
        return None

    def twins(self, index: int, level: int) -> list[int]:
        """The other columns whose name is column ``index``'s at ``level`` (exact, normalised, without
        units): the same name written twice, e.g. ``quantity`` and ``Quantity``."""
        key = self.keys[index][level]
        return [i for i, keys in enumerate(self.keys) if i != index and key and keys[level] == key]


def match_header(header: list[str], wanted: Iterable[str]) -> dict[str, str]:
    """``header``'s names that are one of the canonical names ``wanted`` (in that order, one column
    each), by the rule of this module: source name -> canonical name."""
    names, taken, found = Names(header), set(), {}
    for name in wanted:
        index = names.find(name, taken)
        if index is not None:
            taken.add(index)
            found[header[index]] = name
    return found


def same_name_columns(header: list[str], wanted: Iterable[str]) -> tuple[str, int, int] | None:
    """(canonical name, first field, second field), 1-based, of the first canonical name in ``wanted``
    that two of ``header``'s columns match (``capacity`` and ``Capacity (m3)``), or None."""
    keys = [normalise(name, units=False) for name in header]
    for name in wanted:
        hits = [i for i, key in enumerate(keys) if key and key == normalise(name, units=False)]
        if len(hits) > 1:
            return name, hits[0] + 1, hits[1] + 1
    return None
