"""The night's instance as a planner reopens it: ids named like missing values, files beside the tables,
rows a spreadsheet adds, encodings and separators it saves with, values that are not numbers.

Each case is read as the night published it (the same plan), read with a warning, or refused (exit 2) in
one paragraph naming the file, row and column.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from anticipate.allocation import read_instance, validate_instance, write_instance
from anticipate.cli import main
from anticipate.errors import DataError
from anticipate.storage.files import file_digest

#: Ids pandas reads as missing by default; a SKU or a warehouse may be named so.
MISSING_WORDS = ("NA", "NULL", "None", "nan", "N/A", "n/a", "#N/A", "null", "NaN")


def _instance(warehouses: list[str], skus: list[str]) -> object:
    """A small valid instance with these ids, every warehouse x SKU a cell."""
    w = pd.DataFrame({"warehouse_id": warehouses, "capacity": [4.0 + i for i in range(len(warehouses))]})
    s = pd.DataFrame({"sku": skus, "unit_volume": [1.0 + 0.25 * i for i in range(len(skus))],
                      "supply": [3 + i for i in range(len(skus))], "g": 4.0, "h": 0.5})
    c = pd.DataFrame([(a, b) for a in warehouses for b in skus], columns=["warehouse_id", "sku"])
    c = c.assign(mu=[0.5 + 0.1 * i for i in range(len(c))], var=lambda f: f["mu"] * 2, move_cost=0.1)
    return validate_instance(w, s, c)


def _night(root: Path, inst: object) -> Path:
    """A night's plan folder as allocate publishes it: instance/ and a summary recording its digests."""
    paths = write_instance(inst, root / "instance")
    digests = {p.name: file_digest(p) for p in sorted(paths.values())}
    (root / "summary.json").write_text(json.dumps({"instance_digests": digests}))
    return root / "instance"


def _solve(instance: Path, out: Path) -> object:
    return CliRunner().invoke(main, ["solve", "--instance", str(instance), "--out", str(out)])


def test_ids_named_like_missing_values_round_trip_to_the_same_plan(tmp_path: Path) -> None:
    """A warehouse named 'NA' and SKUs named 'None', 'nan': allocate published them, and solve refused its
    own night's instance ("the row has no warehouse_id"), pandas reading them as missing (audit27)."""
    inst = _instance(["NA", "NULL", "W1"], [*MISSING_WORDS[2:], "S1"])
    instance = _night(tmp_path / "night", inst)
    again = read_instance(instance)
    for name in ("warehouses", "skus", "cells"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(inst, name))
    assert again.read_warnings == ()
    result = _solve(instance, tmp_path / "plan")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output  # nor "instance edited since the night's plan"
    as_parquet = tmp_path / "parquet"  # the same tables, ids never read from CSV text
    as_parquet.mkdir()
    for name in ("warehouses", "skus", "cells"):
        getattr(inst, name).to_parquet(as_parquet / f"{name}.parquet")
    assert _solve(as_parquet, tmp_path / "expected").exit_code == 0
    plan = pd.read_parquet(tmp_path / "plan" / "plan.parquet")
    assert plan.equals(pd.read_parquet(tmp_path / "expected" / "plan.parquet"))
    assert int(plan["units"].sum()) > 0 and set(plan["warehouse_id"]) == {"NA", "NULL", "W1"}


def test_an_empty_id_is_still_refused_naming_file_row_and_column(tmp_path: Path) -> None:
    instance = _night(tmp_path, _instance(["NA", "W1"], ["S1"]))
    (instance / "warehouses.csv").write_text("warehouse_id,capacity\nNA,4\n,5\nW1,6\n")
    with pytest.raises(DataError) as err:
        read_instance(instance)
    assert (err.value.file, err.value.row, err.value.column) == (
        str(instance / "warehouses.csv"), 2, "warehouse_id")
    assert "the row has no warehouse_id; give it one or delete the row" in str(err.value)


def test_solve_reads_only_the_tables_exact_files_not_a_backup_or_a_folder_beside_them(tmp_path: Path) -> None:
    """solve took every file whose stem was a table's: a ``skus.bak`` beside skus.csv said "instance edited
    since the night's plan" of an untouched night, and a ``cells.orig/`` folder was an IsADirectoryError
    (exit 1) (audit27)."""
    instance = _night(tmp_path / "night", _instance(["W1", "W2"], ["S1", "S2"]))
    (instance / "skus.bak").write_text("sku,unit_volume,supply,g,h\nS1,1,1,1,1\n")
    (instance / "cells.orig").mkdir()
    (instance / "cells.orig" / "cells.parquet").write_bytes((instance / "cells.parquet").read_bytes())
    (instance / "warehouses.csv.orig").mkdir()
    result = _solve(instance, tmp_path / "plan")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert sorted(summary["inputs"]) == ["cells.parquet", "skus.csv", "warehouses.csv"]
    assert "input_warnings" not in summary


@pytest.mark.parametrize(
    ("text", "row", "line"),
    [("warehouse_id,capacity\nW1,4\nW2,5\nW3,1,200\nW4,7\n", 3, 4),  # pandas: "Error tokenizing data"
     ("warehouse_id,capacity\nW1,4\n\nW2,5\nW3,1,200\n", 3, 5),  # a blank line: no row, one line
     ('warehouse_id,capacity\n"W1\nnorth",4\nW2,5\nW3,1,200\n', 3, 5),  # a value over two lines
     ("warehouse_id,capacity\nW1,1,200\nW2,5\n", 1, 2)],  # pandas: a ParserWarning, the row shifted
)
def test_an_unquoted_thousands_separator_after_row_1_is_our_message_naming_row_and_line(
    tmp_path: Path, text: str, row: int, line: int
) -> None:
    """'W3,1,200' in the third data row gave pandas' "Error tokenizing data. C error: Expected 2 fields in
    line 4, saw 3" (audit27): now the data row and the file line, the cause and the fix, exit 2."""
    instance = _night(tmp_path, _instance(["W1", "W2"], ["S1"]))
    (instance / "warehouses.csv").write_text(text)
    result = _solve(instance, tmp_path / "plan")
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0, result.output
    assert (f"file {instance / 'warehouses.csv'}, row {row}: data row {row} (line {line} of the file, "
            "counting the header) has 3 fields and the header 2: a value holds an unquoted comma, most "
            "likely a number saved with a thousands separator (1,200 for 1200) or a comma in a text value: "
            "save the file with no thousands separators in its numbers (or quote that value) and run again"
            ) in result.output
    assert "tokenizing" not in result.output


def test_rows_wider_than_the_header_by_empty_fields_only_are_read(tmp_path: Path) -> None:
    """A spreadsheet saves 'W1,4,,' when cells right of the table were once formatted: nothing is lost."""
    inst = _instance(["W1", "W2", "W3"], ["S1"])
    instance = _night(tmp_path, inst)
    (instance / "warehouses.csv").write_text("warehouse_id,capacity\nW1,4,,\nW2,5\nW3,6,\n")
    pd.testing.assert_frame_equal(read_instance(instance).warehouses, inst.warehouses)


def test_empty_rows_at_the_end_are_ignored_with_a_warning_that_counts_them(tmp_path: Path) -> None:
    """A spreadsheet saved ',' lines below the table: "row 4, column 'capacity': value nan breaks the rule
    'capacity >=0, finite'" (audit27). Now read, and said once; an empty row inside the table is refused."""
    inst = _instance(["W1", "W2", "W3"], ["S1"])
    instance = _night(tmp_path / "a", inst)
    (instance / "warehouses.csv").write_text("warehouse_id,capacity\nW1,4\nW2,5\nW3,6\n,\n , \n,\n")
    (instance / "skus.csv").write_text((instance / "skus.csv").read_text() + ",,,,\n")
    again = read_instance(instance)
    pd.testing.assert_frame_equal(again.warehouses, inst.warehouses)
    pd.testing.assert_frame_equal(again.skus, inst.skus)
    assert again.read_warnings == (
        f"file {instance / 'warehouses.csv'}: 3 empty row(s) at the end (data rows 4-6, every field blank, "
        "as a spreadsheet saves rows it once formatted) ignored; delete them to silence this",
        f"file {instance / 'skus.csv'}: 1 empty row(s) at the end (data row 2, every field blank, as a "
        "spreadsheet saves rows it once formatted) ignored; delete them to silence this")
    semi = _night(tmp_path / "b", inst)
    (semi / "warehouses.csv").write_text("warehouse_id;capacity\nW1;4\nW2;5\nW3;6\n;\n")
    assert "1 empty row(s) at the end" in read_instance(semi).read_warnings[0]

    (instance / "warehouses.csv").write_text("warehouse_id,capacity\nW1,4\n,\nW2,5\nW3,6\n")
    with pytest.raises(DataError) as err:
        read_instance(instance)
    assert (err.value.row, err.value.column) == (2, None)
    assert ("data row 2 is empty (every field blank) and rows with values follow it: delete the empty row(s) "
            "between the table's rows and run again") in str(err.value)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_latin_1_file_is_refused_naming_its_line_and_csv_utf_8(tmp_path: Path, encoding: str) -> None:
    """A spreadsheet's plain "CSV" save is Latin-1 / Windows-1252: "cannot parse CSV ('utf-8' codec can't
    decode byte 0xe9 in position 1 ...)", or, with a row wider than the header after it, a
    UnicodeDecodeError traceback (exit 1) (audit27)."""
    instance = _night(tmp_path, _instance(["W1", "Wé"], ["S1"]))
    rows = "".join(f"W{i},5\n" for i in range(2000))
    wide = "W€,1,200\n" if encoding == "cp1252" else ""  # a row wider than the header after it
    (instance / "warehouses.csv").write_bytes(f"warehouse_id,capacity\n{rows}Wé,4\n{wide}".encode(encoding))
    result = _solve(instance, tmp_path / "plan")
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0, result.output
    assert (f"file {instance / 'warehouses.csv'}: line 2002 of the file (counting the header) is not UTF-8 "
            "text: byte(s) e9 in 'Wé,4' (as Latin-1 / Windows-1252 reads it), so the file was saved in a "
            'legacy encoding (a spreadsheet\'s plain "CSV" save): save it as "CSV UTF-8" and run again'
            ) in result.output
    (instance / "warehouses.csv").write_bytes("warehouse_id,capacity\nW1,4\n".encode("utf-16"))
    with pytest.raises(DataError, match=r'the file is UTF-16 text .* save it as "CSV UTF-8"'):
        read_instance(instance)


@pytest.mark.parametrize(
    ("table", "text", "row", "column", "said"),
    [
        ("warehouses", "warehouse_id,capacity\nW1,'57.6\nW2,5\n", 1, "capacity",
         "value \"'57.6\" is not a number: a leading apostrophe (a spreadsheet's mark for a number stored as "
         "text) is not read; capacity takes a number >= 0, written plainly (digits and one decimal mark): "
         "write 57.6 and save the file again"),
        ("skus", "sku,unit_volume,supply,g,h\nS1,1,3,4,(0.5)\n", 1, "h",
         "value '(0.5)' is not a number: parentheses are an accounting format's negative number (-0.5); h "
         "takes a number >= 0, written plainly (digits and one decimal mark): fix that row and save the file "
         "again"),
        ("skus", "sku,unit_volume,supply,g,h\nS1,1,3,4,50%\n", 1, "h",
         "value '50%' is not a number: a percent sign is not read (50% is 0.5); h takes a number >= 0, "
         "written plainly (digits and one decimal mark): write 0.5 and save the file again"),
        ("skus", "sku;unit_volume;supply;g;h\nS1;1;3;4,00 €;0,5\n", 1, "g",
         "value '4,00 €' is not a number: a currency sign is not read; g takes a number >= 0, written "
         "plainly (digits and one decimal mark): write 4,00 and save the file again"),
        ("warehouses", "warehouse_id,capacity\nW1,4\nW2,lots\n", 2, "capacity",
         "value 'lots' is not a number; capacity takes a number >= 0, written plainly (digits and one "
         "decimal mark): fix that row and save the file again"),
        ("skus", "sku,unit_volume,supply,g,h\nS1,,3,4,1\n", 1, "unit_volume",
         "the field is empty (or a word such as NA): unit_volume takes a number > 0, written plainly (digits "
         "and one decimal mark); fill it in and save the file again"),
    ],
)
def test_a_value_that_is_no_number_is_named_with_what_is_wrong_and_what_the_column_takes(
    tmp_path: Path, table: str, text: str, row: int, column: str, said: str
) -> None:
    """"value \"'57.6\" breaks the rule 'capacity >=0, finite'" did not say that the apostrophe, the
    parentheses or the percent sign was the trouble (audit27)."""
    instance = _night(tmp_path, _instance(["W1", "W2"], ["S1"]))
    (instance / f"{table}.csv").write_text(text)
    with pytest.raises(DataError) as err:
        read_instance(instance)
    assert (err.value.file, err.value.row, err.value.column) == (str(instance / f"{table}.csv"), row, column)
    assert str(err.value).endswith(said)


def test_a_tab_separated_save_is_read_as_a_semicolon_one_is_with_a_warning(tmp_path: Path) -> None:
    """A spreadsheet's tab-delimited text save: "missing column(s) ['warehouse_id', 'capacity']; found
    ['warehouse_id\\tcapacity']" (audit27). Read with tabs between fields and the decimal mark its numbers
    show, as a ';' file is, and said."""
    inst = _instance(["W1", "W2"], ["S1", "S2"])
    instance = _night(tmp_path / "a", inst)
    for name in ("warehouses", "skus"):
        text = (instance / f"{name}.csv").read_text()
        (instance / f"{name}.csv").write_text(text.replace(",", "\t"))
    again = read_instance(instance)
    for name in ("warehouses", "skus", "cells"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(inst, name))
    assert again.read_warnings == tuple(
        f"{instance / name} looks tab-separated (tabs between fields, as a spreadsheet's tab-delimited text "
        "save): read with tabs between fields and a decimal point; save it as CSV UTF-8 (comma-separated) "
        "to silence this" for name in ("warehouses.csv", "skus.csv"))
    euro = _night(tmp_path / "b", inst)
    (euro / "warehouses.csv").write_text("warehouse_id\tcapacity\nW1\t4,25\nW2\t\"1,500\"\n")
    again = read_instance(euro)
    assert again.warehouses["capacity"].tolist() == [4.25, 1.5]
    assert "read with tabs between fields and a decimal comma as a decimal point" in again.read_warnings[0]


def test_a_no_break_space_after_an_id_is_removed_like_a_space_with_the_same_warning(tmp_path: Path) -> None:
    """A spreadsheet saved 'W1\\u00a0': "'W1' is not in the warehouses table" of the cells (audit27)."""
    inst = _instance(["W1", "W2"], ["S1"])
    instance = _night(tmp_path, inst)
    (instance / "warehouses.csv").write_text("warehouse_id,capacity\nW1\u00a0,4\n\u202fW2 ,5\n")
    again = read_instance(instance)
    pd.testing.assert_frame_equal(again.warehouses, inst.warehouses)
    assert again.read_warnings == (
        f"file {instance / 'warehouses.csv'}, column 'warehouse_id': 2 id(s) had spaces around them (the "
        "first at row 1: 'W1\\xa0'), removed as ingest removes them (read as 'W1'); save the file without "
        "them to silence this",)


#: pandas.read_csv's default na_values as its documentation lists them (pandas 2.1 to 3.x).
PANDAS_DEFAULT_NA = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                     "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_number_column_reads_exactly_our_missing_words_as_missing(tmp_path: Path, sep: str) -> None:
    """instance_csv took its words from pandas' private ``pandas._libs.parsers.STR_NA_VALUES`` (audit): now
    our own constant; each of its words is "empty (or a word such as NA)", any other word is no number."""
    from anticipate.allocation.instance_csv import MISSING_NUMBER_WORDS

    assert frozenset(PANDAS_DEFAULT_NA) == MISSING_NUMBER_WORDS
    for k, word in enumerate([*PANDAS_DEFAULT_NA[1:], "none", "missing", "-"]):
        instance = _night(tmp_path / str(k), _instance(["W1", "W2"], ["S1"]))
        (instance / "warehouses.csv").write_text(f"warehouse_id{sep}capacity\nW1{sep}4\nW2{sep}{word}\n")
        with pytest.raises(DataError) as err:
            read_instance(instance)
        assert (err.value.row, err.value.column) == (2, "capacity"), word
        said = "the field is empty (or a word such as NA)" if word in PANDAS_DEFAULT_NA else (
            f"value {word!r} is not a number")
        assert said in str(err.value), (word, str(err.value))


def test_our_missing_words_are_what_pandas_reads_as_missing_by_default() -> None:
    """The words cover pandas' own default for a number column: each reads as NaN with read_csv's defaults,
    and a word outside them does not (so a file pandas would read as missing is never "not a number")."""
    import io

    words = [w for w in PANDAS_DEFAULT_NA if w]  # "" is an empty field: a line "x," below
    text = "x,y\n" + "".join(f"{w},1\n" for w in [*words, "none", "missing"]) + ",1\n"
    read = pd.read_csv(io.StringIO(text), dtype={"x": object})["x"]
    assert read.isna().tolist() == [True] * len(words) + [False, False, True]
    try:  # pandas' private set, where it still is: ours must not fall behind it
        from pandas._libs.parsers import STR_NA_VALUES
    except ImportError:  # moved: the read above still pins the behaviour
        return
    assert frozenset(STR_NA_VALUES) == frozenset(PANDAS_DEFAULT_NA)


def test_no_module_imports_a_private_pandas_module() -> None:
    """``pandas._libs`` and ``pandas.core`` are pandas' internals: a release may move them (audit)."""
    import re

    src = Path(__file__).resolve().parents[1] / "src" / "anticipate"
    private = re.compile(r"^\s*(from|import)\s+pandas\.(_libs|core|_)", re.MULTILINE)
    assert [str(p.relative_to(src)) for p in sorted(src.rglob("*.py")) if private.search(p.read_text())] == []


@pytest.mark.parametrize("header", ["Capacity", "capacity (m3)", " CAPACITY [m3] "])
def test_a_column_named_as_ingest_matches_it_is_read(tmp_path: Path, header: str) -> None:
    """'Capacity' or 'capacity (m3)' in warehouses.csv: ingest reads it as capacity (case, punctuation and
    a unit in brackets ignored), solve refused it ("missing column(s) ['capacity']"). One rule now
    (anticipate.column_names): the same instance, the same plan, CSV and Parquet."""
    inst = _instance(["W1", "W2"], ["S1", "S2"])
    instance = _night(tmp_path / "night", inst)
    text = (instance / "warehouses.csv").read_text()
    (instance / "warehouses.csv").write_text(text.replace("capacity", f'"{header}"', 1))
    again = read_instance(instance)
    pd.testing.assert_frame_equal(again.warehouses, inst.warehouses)
    assert again.read_warnings == ()
    (instance / "warehouses.csv").unlink()
    inst.warehouses.rename(columns={"capacity": header}).to_parquet(instance / "warehouses.parquet")
    pd.testing.assert_frame_equal(read_instance(instance).warehouses, inst.warehouses)


def test_two_columns_one_name_by_the_matching_rule_are_refused(tmp_path: Path) -> None:
    """'capacity' beside 'Capacity (m3)': which one is the table's is not decided in silence."""
    instance = _night(tmp_path / "night", _instance(["W1"], ["S1"]))
    (instance / "warehouses.csv").write_text("warehouse_id,capacity,Capacity (m3)\nW1,4,5\n")
    with pytest.raises(DataError, match=r"names column 'capacity' \('capacity' and 'Capacity \(m3\)'\) twice "
                                        r"\(fields 2 and 3\)"):
        read_instance(instance)


def test_an_instance_in_small_units_keeps_its_objective_and_bound_figures(tmp_path: Path) -> None:
    """audit33B C1: summary.json rounded objective, bound and lp_bound to 6 decimals, so an instance whose
    values are small (money in millions) published objective 1e-06 for 8.86e-07, and solve printed
    "objective 0.00, bound 0.00"; both keep their significant digits now."""
    instance = tmp_path / "in"
    instance.mkdir()
    (instance / "warehouses.csv").write_text("warehouse_id,capacity\nW1,4\n")
    (instance / "skus.csv").write_text("sku,unit_volume,supply,g,h\nS1,1,10,0.0000004,0.00000005\n")
    (instance / "cells.csv").write_text("warehouse_id,sku,mu,var,move_cost\nW1,S1,3.0,3.0,0.00000003\n")
    result = CliRunner().invoke(main, ["solve", "--instance", str(instance), "--out", str(tmp_path / "out"),
                                       "--lp-bound"])  # the LP even where the Lagrangian gap certifies
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["units"] == 4
    for key in ("objective", "bound", "lp_bound"):
        assert summary[key] == pytest.approx(8.86289209713e-07, rel=1e-11), key
    assert "objective 8.86289e-07, bound 8.86289e-07," in result.output
    from anticipate.pipelines._common import amount_text  # audit34: '1,819.1' beside a bound of '1,819.42'

    printed = [amount_text(x) for x in (1819.1, 1819.42, 1600.50897, 0.5)]
    assert printed == ["1,819.10", "1,819.42", "1,600.51", "0.5"]
