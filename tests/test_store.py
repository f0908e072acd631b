"""The results folder (minimax.study.store): what it promises about cells, tables and writes.

Cells round-trip through their parquet files with the documented columns first; only whole cell
files count as finished; a cell with a row that is not ok is recomputed unless kept; a write
that raises or is killed half-way leaves the previous file or none; concurrent writers of one
cell never tear it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimax.study import store

TEXT_COLUMNS = ("error", "flag", "method", "device", "status")

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "n": st.integers(1, 10**6),
            "replicate": st.integers(0, 50),
            "estimator": st.sampled_from(["kde", "ddpm"]),
            "metric": st.sampled_from(["tv", "score"]),
            "value": st.floats(allow_nan=True, allow_infinity=True),
            "status": st.sampled_from(["ok", "failed", "diverged"]),
            "error": st.none() | st.text(max_size=20),
            "flag": st.none() | st.sampled_from(["ok", "rising", "unresolved"]),
            "note": st.text(max_size=5),  # a column docs/design.md does not name
        }
    ),
    min_size=1,
    max_size=8,
)


def _equal(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _assert_rows(df: pd.DataFrame, rows: list[dict]) -> None:
    """``df`` holds exactly ``rows``, in order; a missing text value reads back as ""."""
    assert len(df) == len(rows)
    for key in rows[0]:
        want = [("" if r[key] is None else r[key]) if key in TEXT_COLUMNS else r[key] for r in rows]
        got = df[key].tolist()
        assert all(_equal(g, w) for g, w in zip(got, want, strict=True)), (key, got, want)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@settings(max_examples=25, deadline=None)
@given(first=rows_strategy, second=rows_strategy)
def test_cells_round_trip_with_the_documented_columns_first(first, second):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        store.write_cell(out, "a" * 24, first)
        store.write_cell(out, "b" * 24, second)
        assert store.finished_cells(out) == {"a" * 24, "b" * 24}
        df = store.read_cells(out, ["b" * 24, "a" * 24])  # in the order asked for
        assert list(df.columns) == store.COLUMNS + ["note"]
        _assert_rows(df, second + first)
        for col in TEXT_COLUMNS:  # text columns are text, never a mix with nulls
            assert all(isinstance(v, str) for v in df[col])


def test_reading_no_cells_gives_an_empty_table_with_every_column(tmp_path):
    df = store.read_cells(tmp_path, [])
    assert df.empty and list(df.columns) == store.COLUMNS


def test_only_whole_cell_files_count_as_finished(tmp_path):
    assert store.finished_cells(tmp_path) == set()  # no cells folder yet
    store.write_cell(tmp_path, "c1", [{"status": "ok", "value": 1.0}])
    cells = store.cells_dir(tmp_path)
    # what an interrupted write leaves (a temporary file), and any hidden parquet file
    store._tmp(store.cell_path(tmp_path, "c2")).write_bytes(b"PAR1 torn")
    (cells / ".c3.parquet").write_bytes(b"PAR1 torn")
    (cells / "notes.txt").write_text("not a cell")
    assert store.finished_cells(tmp_path) == {"c1"}


def test_a_cell_with_a_row_not_ok_counts_as_failed(tmp_path):
    cells = {
        "ok": ["ok", "ok"],
        "one_failed": ["ok", "failed"],
        "diverged": ["diverged"],
        "empty_status": ["ok", None],  # a row without a status did not finish ok either
    }
    for cid, statuses in cells.items():
        store.write_cell(tmp_path, cid, [{"status": s, "value": 0.1} for s in statuses])
    assert store.failed_cells(tmp_path, list(cells)) == {"one_failed", "diverged", "empty_status"}
    assert store.failed_cells(tmp_path, ["ok", "diverged"]) == {"diverged"}  # only those asked
    assert store.failed_cells(tmp_path, []) == set()


def test_a_failed_cell_is_computed_again_unless_kept(tmp_path):
    from minimax.study.runner import pending_units
    from minimax.study.spec import spec_from_values

    spec = spec_from_values(
        {"D": 1, "s": 1.0, "n": [100, 200, 400], "replicates": 2, "estimators": ["kde"]},
        name="t",
    )
    ids = [c.cell_id for c in spec.cells()]
    assert len(set(ids)) == 6

    def pending(keep_failed):
        units, count = pending_units([spec], tmp_path, keep_failed)
        return sorted(c.cell_id for u in units for c in u.cells()), count

    assert pending(False) == (sorted(ids), 6)  # nothing stored: everything is pending
    for cid in ids:
        store.write_cell(tmp_path, cid, [{"cell_id": cid, "status": "ok", "value": 0.1}])
    assert pending(False) == ([], 0)
    failed = ids[3]
    store.write_cell(tmp_path, failed, [{"cell_id": failed, "status": "failed", "value": 0.1}])
    assert pending(False) == ([failed], 1)
    assert pending(True) == ([], 0)


def _tear_parquet(monkeypatch):
    """From now on DataFrame.to_parquet writes half a file, then fails (a full disk)."""

    def torn(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError("no space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", torn)


def test_a_failed_write_leaves_no_cell_and_no_temporary_file(tmp_path, monkeypatch):
    _tear_parquet(monkeypatch)
    with pytest.raises(OSError, match="no space"):
        store.write_cell(tmp_path, "c1", [{"status": "ok", "value": 1.0}])
    assert store.finished_cells(tmp_path) == set()
    assert list(store.cells_dir(tmp_path).iterdir()) == []


def test_a_failed_rewrite_keeps_the_previous_cell(tmp_path, monkeypatch):
    old = [{"status": "ok", "value": 0.25, "n": 100}]
    store.write_cell(tmp_path, "c1", old)
    before = store.cell_path(tmp_path, "c1").read_bytes()
    _tear_parquet(monkeypatch)
    with pytest.raises(OSError):
        store.write_cell(tmp_path, "c1", [{"status": "ok", "value": 0.5, "n": 100}])
    monkeypatch.undo()
    assert store.cell_path(tmp_path, "c1").read_bytes() == before
    _assert_rows(store.read_cells(tmp_path, ["c1"]), old)
    assert _leftovers(store.cells_dir(tmp_path)) == []


def test_a_failed_json_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "study.json"
    store.write_json(path, {"studies": [1]})
    real = Path.write_bytes

    def torn(self, data):
        real(self, data[: len(data) // 2])
        raise OSError("no space left on device")

    monkeypatch.setattr(Path, "write_bytes", torn)
    with pytest.raises(OSError):
        store.write_json(path, {"studies": [1, 2, 3]})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"studies": [1]}
    assert _leftovers(tmp_path) == []


_KILLED_WRITER = """
import os, sys
from pathlib import Path
import pandas as pd
from minimax.study import store

def killed(self, path, *args, **kwargs):
    Path(path).write_bytes(b"PAR1 half a file")
    os._exit(3)  # no cleanup runs: the process is gone mid-write

pd.DataFrame.to_parquet = killed
store.write_cell(Path(sys.argv[1]), sys.argv[2], [{"status": "ok", "value": 9.0}])
"""


def test_a_run_killed_mid_write_leaves_the_previous_cell_or_none(tmp_path):
    def killed_write(cell_id):
        cmd = [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), cell_id]
        assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 3

    store.write_cell(tmp_path, "old", [{"status": "ok", "value": 1.0}])
    killed_write("new")
    killed_write("old")
    cells = store.cells_dir(tmp_path)
    assert len(_leftovers(cells)) == 2  # the torn temporary files are there...
    assert store.finished_cells(tmp_path) == {"old"}  # ...but are no cells
    _assert_rows(store.read_cells(tmp_path, ["old"]), [{"status": "ok", "value": 1.0}])
    store.write_cell(tmp_path, "new", [{"status": "ok", "value": 2.0}])  # a rerun still works
    assert store.finished_cells(tmp_path) == {"old", "new"}


def test_concurrent_writers_of_one_cell_never_tear_it(tmp_path):
    """Two runs writing the same cell: the file is always one writer's whole frame."""
    frames = {
        k: [{"status": "ok", "value": float(k), "n": i} for i in range(3000)] for k in range(6)
    }
    errors = []

    def writer(k):
        try:
            for _ in range(4):
                store.write_cell(tmp_path, "shared", frames[k])
        except Exception as exc:  # collected: a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    df = store.read_cells(tmp_path, ["shared"])
    winner = df["value"].iloc[0]
    assert winner in frames
    _assert_rows(df, frames[int(winner)])
    assert _leftovers(store.cells_dir(tmp_path)) == []


@settings(max_examples=25, deadline=None)
@given(rows=rows_strategy, study=st.lists(st.sampled_from(["s1", "s2"]), min_size=8, max_size=8))
def test_sort_table_orders_by_its_keys_and_keeps_ties_in_order(rows, study):
    keys = ["study", "arm", "estimator", "n", "replicate", "metric"]
    df = pd.DataFrame(
        [{**r, "study": study[i], "arm": "a", "order": i} for i, r in enumerate(rows)]
    )
    out = store.sort_table(df)
    assert list(out.index) == list(range(len(df)))
    assert sorted(out["order"]) == list(range(len(df)))  # a permutation of the rows
    for (_, a), (_, b) in zip(out.iloc[:-1].iterrows(), out.iloc[1:].iterrows(), strict=True):
        ka, kb = tuple(a[k] for k in keys), tuple(b[k] for k in keys)
        assert ka < kb or (ka == kb and a["order"] < b["order"])


def test_the_table_round_trips_and_a_folder_without_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="results.parquet"):
        store.read_table(tmp_path)
    rows = [{"study": "s", "n": n, "value": 1.0 / n, "status": "ok"} for n in (100, 200)]
    store.write_cell(tmp_path, "c1", rows)
    table = store.read_cells(tmp_path, ["c1"])  # a table as the runner builds it
    paths = store.write_table(tmp_path, table)
    assert paths == {"parquet": tmp_path / "results.parquet", "csv": tmp_path / "results.csv"}
    back = store.read_table(tmp_path)
    assert list(back.columns) == list(table.columns)
    _assert_rows(back, rows)
    csv = pd.read_csv(paths["csv"])
    assert list(csv.columns) == list(table.columns) and csv["n"].tolist() == [100, 200]
    assert _leftovers(tmp_path) == []


def test_json_is_written_with_sorted_keys_whatever_the_insertion_order(tmp_path):
    a, b = {"z": 1, "a": [1.5, None], "m": {"y": 2, "b": 3}}, {}
    for k in ("m", "a", "z"):
        b[k] = a[k]
    store.write_json(tmp_path / "a.json", a)
    store.write_json(tmp_path / "b.json", b)
    text = (tmp_path / "a.json").read_text()
    assert text == (tmp_path / "b.json").read_text() and text.endswith("}\n")
    assert json.loads(text) == a
    assert text.index('"a"') < text.index('"m"') < text.index('"z"')
