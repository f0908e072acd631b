"""The results folder: one content-addressed parquet file per finished cell, and the tidy table.

Layout of OUT::

    cells/<cell_id>.parquet   one finished cell (its metric rows), cell_id = hash of its content
    results.parquet, .csv     the tidy long table of the study (docs/design.md columns and more)
    study.json                the study specs that made the table, and the code of each run
                              (fingerprint, git commit: minimax.study.provenance)

Every write goes to a temporary file in the same folder and is renamed into place
(``os.replace`` is atomic on POSIX), so a killed run leaves whole files or none, and two runs
writing the same cell write the same bytes' worth of meaning without tearing each other's files.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pandas as pd

#: the columns of docs/design.md first, in this order; anything else follows
COLUMNS = [
    "study",
    "arm",
    "target",
    "D",
    "s",
    "p",
    "boundary",
    "target_seed",
    "n",
    "replicate",
    "estimator",
    "role",
    "metric",
    "value",
    "se",
    "ci_low",
    "ci_high",
    "floor",
    "flag",
    "method",
    "m",
    "theory",
    "seed",
    "data_seed",
    "status",
    "error",
    "seconds",
    "device",
    "version",
    "sampler",
    "sizing",
    "preset",
    "cell_id",
    "estimator_params",
    "target_params",
    "timings",
]


def _tmp(path: Path) -> Path:
    return path.with_name(f".tmp-{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = _tmp(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_frame(path: Path, df: pd.DataFrame, kind: str = "parquet") -> None:
    tmp = _tmp(path)
    try:
        if kind == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def cells_dir(out: Path) -> Path:
    return Path(out) / "cells"


def cell_path(out: Path, cell_id: str) -> Path:
    return cells_dir(out) / f"{cell_id}.parquet"


def finished_cells(out: Path) -> set[str]:
    """Ids of the cells already written under OUT (temporary files are ignored)."""
    d = cells_dir(out)
    if not d.is_dir():
        return set()
    return {p.stem for p in d.glob("*.parquet") if not p.name.startswith(".")}


def failed_cells(out: Path, cell_ids) -> set[str]:
    """Those of ``cell_ids`` stored under OUT whose rows did not finish ok (failed, diverged):
    a rerun computes them again unless told to keep them (``--keep-failed``)."""
    import pyarrow.parquet as pq

    bad = set()
    for cid in cell_ids:
        status = pq.read_table(cell_path(out, cid), columns=["status"]).column("status")
        if any(v != "ok" for v in status.to_pylist()):
            bad.add(cid)
    return bad


def write_cell(out: Path, cell_id: str, rows: list[dict]) -> None:
    d = cells_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_frame(cell_path(out, cell_id), _frame(rows))


def read_cells(out: Path, cell_ids) -> pd.DataFrame:
    frames = [pd.read_parquet(cell_path(out, cid)) for cid in cell_ids]
    if not frames:
        return _frame([])
    return _frame(pd.concat(frames, ignore_index=True))


def _frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(dtype="float64")
    extra = [c for c in df.columns if c not in COLUMNS]
    df = df[COLUMNS + extra]
    # text columns as str, so parquet never sees a mix of text and nulls of another type
    for col in ("error", "flag", "method", "device", "status"):
        df[col] = df[col].astype(object).fillna("").astype(str)
    return df


def sort_table(df: pd.DataFrame) -> pd.DataFrame:
    keys = ["study", "arm", "estimator", "n", "replicate", "metric"]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def write_table(out: Path, df: pd.DataFrame) -> dict[str, Path]:
    """Write results.parquet and results.csv (atomically); return their paths."""
    out = Path(out)
    paths = {"parquet": out / "results.parquet", "csv": out / "results.csv"}
    atomic_write_frame(paths["parquet"], df, "parquet")
    atomic_write_frame(paths["csv"], df, "csv")
    return paths


def read_table(out: Path) -> pd.DataFrame:
    """The stored tidy table of a results folder; ValueError when there is none."""
    path = Path(out) / "results.parquet"
    if not path.is_file():
        raise ValueError(f"results folder={str(out)!r} is not allowed: it has no results.parquet")
    return pd.read_parquet(path)


def write_json(path: Path, obj) -> None:
    atomic_write_bytes(Path(path), (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())
