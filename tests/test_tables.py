"""Reading sample files: delimited text and parquet through pandas, arrays through numpy; picking columns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neuralmi.tables as neuralmi_tables
from neuralmi.data import as_samples
from neuralmi.errors import NeuralMIError
from neuralmi.tables import read_table, select_columns

pd = pytest.importorskip("pandas")


def test_unselected_text_columns_are_read_and_left_alone(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "label": ["u", "v", "w"], "b": [4, 5, 6]})
    frame.to_csv(tmp_path / "t.csv")
    table = read_table(tmp_path / "t.csv")
    assert list(table.columns) == ["Unnamed: 0", "a", "label", "b"]
    assert as_samples(select_columns(table, "a,b", "t.csv"), "x").tolist() == [[1, 4], [2, 5], [3, 6]]
    with pytest.raises(NeuralMIError, match="column 'label' is non-numeric"):
        as_samples(select_columns(table, "label", "t.csv"), "y")


def test_a_first_row_of_numbers_is_data(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "t.tsv", np.arange(6.0).reshape(3, 2), delimiter="\t")
    table = read_table(tmp_path / "t.tsv")
    assert list(table.columns) == ["0", "1"] and table.to_numpy().tolist() == [[0, 1], [2, 3], [4, 5]]
    (tmp_path / "m.csv").write_text("1,nan\n,2\n")  # missing and NaN cells count as numbers: no header
    assert read_table(tmp_path / "m.csv").shape == (2, 2)


def test_columns_by_name_index_and_range(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1], "b": [2], "c": [3], "d": [4]}).to_csv(tmp_path / "t.csv", index=False)
    table = read_table(tmp_path / "t.csv")
    assert select_columns(table, "d, 0, 1:3", "t.csv").to_numpy().tolist() == [[4, 1, 2, 3]]
    assert select_columns(np.arange(4)[None, :], "-1,:2", "t.npy").tolist() == [[3, 0, 1]]
    assert select_columns(np.arange(3), "0", "t.npy").tolist() == [[0], [1], [2]]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.csv", "", "the file is empty"),
        ("ragged.csv", "a,b\n1,2\n3,4,5\n", "not a readable .csv table"),
        ("t.txt", "1 2", "unreadable format '.txt'"),
    ],
)
def test_unreadable_files_raise_one_sentence(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(NeuralMIError, match=message):
        read_table(tmp_path / name)
    with pytest.raises(NeuralMIError, match="no such file"):
        read_table(tmp_path / "missing.csv")


@pytest.mark.parametrize(("spec", "message"), [("z", "no column named 'z'"), ("7", "out of range"), (",", "no columns")])
def test_bad_column_specs(spec: str, message: str) -> None:
    with pytest.raises(NeuralMIError, match=message):
        select_columns(pd.DataFrame({"a": [1], "b": [2]}), spec, "t.csv")


def test_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pd.DataFrame({"a": [1.0, 2.0], "label": ["u", "v"]}).to_parquet(tmp_path / "t.parquet")
    assert select_columns(read_table(tmp_path / "t.parquet"), "a", "t").to_numpy().tolist() == [[1.0], [2.0]]


def test_importing_neuralmi_does_not_import_pandas() -> None:
    code = "import sys, neuralmi, neuralmi.tables; print('pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_loses_no_row_and_names_no_column(tmp_path: Path) -> None:
    rows = b"".join(b"%d.5,%d\n" % (i, i + 1) for i in range(300))
    (tmp_path / "plain.csv").write_bytes(BOM + rows)
    (tmp_path / "named.csv").write_bytes(BOM + b"a,b\n" + rows)
    assert read_table(tmp_path / "plain.csv").shape == (300, 2)
    named = read_table(tmp_path / "named.csv")
    assert list(named.columns) == ["a", "b"] and select_columns(named, "a", "t").to_numpy()[0, 0] == 0.5


def test_a_header_of_whole_numbers_above_decimals_is_ambiguous_until_told(tmp_path: Path) -> None:
    path = tmp_path / "years.csv"
    path.write_text("2019,2020\n" + "".join(f"{i / 7},{i / 3}\n" for i in range(300)))
    with pytest.raises(NeuralMIError, match=r"first row \(2019,2020\) holds whole numbers .* header=True / --header"):
        read_table(path)
    named = read_table(path, header=True)
    assert list(named.columns) == ["2019", "2020"] and len(named) == 300
    assert len(read_table(path, header=False)) == 301
    (tmp_path / "ints.csv").write_text("1,2\n3,4\n5,6\n")  # whole numbers throughout: data, by the rule
    assert read_table(tmp_path / "ints.csv").shape == (3, 2)


def test_a_cell_the_parser_reads_as_no_number_is_named(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_text("a,b\n1,2\n1_000,4\n")
    table = read_table(tmp_path / "u.csv")
    with pytest.raises(NeuralMIError, match="X column 'a' is non-numeric: row 1 holds '1_000', not a number; if it groups"):
        as_samples(select_columns(table, "a", "u.csv"), "X")
    assert as_samples(select_columns(table, "b", "u.csv"), "X").ravel().tolist() == [2.0, 4.0]


def test_thousands_separators_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text("a\tb\n1,000\t2\n2,500.5\t3\n")
    with pytest.raises(NeuralMIError, match="row 0 holds '1,000', not a number"):
        as_samples(select_columns(read_table(tmp_path / "t.tsv"), "a", "t"), "X")
    parsed = read_table(tmp_path / "t.tsv", thousands=",")
    assert as_samples(select_columns(parsed, "a", "t"), "X").ravel().tolist() == [1000.0, 2500.5]


def test_numeric_columns_are_float64_read_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 7 rows: numbers come back whole and in order, and a bad cell in a later chunk is named by its row."""
    import neuralmi.tables

    monkeypatch.setattr(neuralmi.tables, "_CHUNK_ROWS", 7)
    values = np.arange(50) / 4
    (tmp_path / "t.csv").write_text("a,b\n" + "".join(f"{v},{'oops' if i == 40 else v}\n" for i, v in enumerate(values)))
    table = read_table(tmp_path / "t.csv")
    assert table["a"].dtype == np.float64 and table["a"].tolist() == values.tolist()
    with pytest.raises(NeuralMIError, match="row 40 holds 'oops'"):
        as_samples(select_columns(table, "b", "t"), "Y")


def _unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.save(path, np.zeros(3))
    monkeypatch.setattr(neuralmi_tables.os, "access", lambda p, mode: False)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("e.npy", lambda p, m: p.write_bytes(b""), "the file is empty"),
        ("t.npy", lambda p, m: p.write_bytes(np.lib.format.MAGIC_PREFIX + b"\x01\x00garbage"), "not a readable .npy file"),
        ("o.npy", lambda p, m: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True), "holds Python objects"),
        ("z.npz", lambda p, m: p.write_bytes(b"PK\x03\x04 truncated"), "not a readable .npz file"),
        ("d.npy", lambda p, m: p.mkdir(), "a folder, not a file"),
        ("r.npy", _unreadable, "permission denied"),
        ("p.parquet", lambda p, m: p.write_bytes(b"not parquet"), "not a readable parquet file"),
        ("c.npy", lambda p, m: p.write_text("a,b\n1,2\n"), "not a .npy file"),
        ("l.csv", lambda p, m: p.write_bytes("caf\xe9,b\n1,2\n".encode("latin-1")), "not UTF-8 text"),
        ("w.csv", lambda p, m: p.write_text("a,b\n1.5,2\n", encoding="utf-16"), "not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, make: Any, message: str
) -> None:
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    make(tmp_path / name, monkeypatch)
    with pytest.raises(NeuralMIError, match=f"{name}: {message}"):
        read_table(tmp_path / name)


@pytest.mark.parametrize(
    ("table", "spec", "message"),
    [
        (np.zeros((3, 2)), "a:b", "column range 'a:b' must be of indices"),
        (np.float64(1.0), "0", r"1-D or 2-D array, this one has shape \(\)"),
        (np.zeros((3, 2, 2)), "0", r"this one has shape \(3, 2, 2\)"),
    ],
)
def test_column_specs_on_arrays_are_checked(table: Any, spec: str, message: str) -> None:
    with pytest.raises(NeuralMIError, match=message):
        select_columns(table, spec, "t.npy")
