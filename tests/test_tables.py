"""Reading sample files: delimited text and parquet through pandas, arrays through numpy; picking columns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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
