"""Declared column types for table exports, so a file has the same shape whatever data it holds.

Without a declared schema pandas guesses per export: ranks become float64 when one is missing, a
timestamp stays a string, an all-empty column is typed ``null``. Here each export names its columns
and their kind once; Parquet gets the matching pyarrow schema, CSV is written with the same columns
and read back by ``read_table`` into the same pandas dtypes (nullable ``Int64``, ``boolean``,
``datetime64[us, UTC]``, ``string``; lists as JSON text in CSV, native lists in Parquet/JSONL).

In CSV an empty cell of a ``string`` column reads back as ``""`` (never NaN); an empty cell of an
``int``, ``float``, ``bool`` or ``timestamp`` column is missing (``<NA>`` / ``NaT``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

Kind = Literal["string", "int", "float", "bool", "timestamp", "strings"]
Columns = Sequence[tuple[str, Kind]]

PANDAS_DTYPES = {"string": "string", "int": "Int64", "float": "Float64", "bool": "boolean",
                 "timestamp": "datetime64[us, UTC]", "strings": "object"}


def arrow_schema(columns: Columns):
    import pyarrow as pa

    types = {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
             "timestamp": pa.timestamp("us", tz="UTC"), "strings": pa.list_(pa.string())}
    return pa.schema([pa.field(name, types[kind], nullable=True) for name, kind in columns])


def pandas_dtypes(columns: Columns) -> dict[str, str]:
    return {name: PANDAS_DTYPES[kind] for name, kind in columns}


def frame(rows: Sequence[dict[str, Any]], columns: Columns):
    """A DataFrame with exactly ``columns`` in their declared dtypes (missing keys are missing values)."""
    import pandas as pd

    data = {name: [row.get(name) for row in rows] for name, _ in columns}
    out = pd.DataFrame(data, columns=[name for name, _ in columns])
    for name, kind in columns:
        if kind == "timestamp":
            out[name] = pd.to_datetime(out[name], utc=True, format="ISO8601").astype(PANDAS_DTYPES[kind])
        elif kind != "strings":
            out[name] = out[name].astype(PANDAS_DTYPES[kind])
    return out


def write_table(rows: Sequence[dict[str, Any]], columns: Columns, fmt: str, path: Path,
                cell: Callable[[Any], Any] = lambda v: v) -> None:
    """``rows`` as Parquet (the declared arrow schema) or CSV (``cell`` applied to each text cell)."""
    table = frame(rows, columns)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(table, schema=arrow_schema(columns), preserve_index=False), path)
        return
    for name, kind in columns:
        if kind == "strings":
            table[name] = [json.dumps(list(v), ensure_ascii=False) if v is not None else None for v in table[name]]
        if kind in ("string", "strings"):
            table[name] = table[name].map(cell, na_action="ignore")
    table.to_csv(path, index=False, lineterminator="\r\n")  # RFC 4180; quotes a lone \r too


def read_table(path: Path, columns: Columns, cell: Callable[[Any], Any] = lambda v: v):
    """An exported Parquet or CSV file back in the declared dtypes."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path, dtype_backend="numpy_nullable").astype(
            {n: d for n, d in pandas_dtypes(columns).items() if d != "object"})
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = raw.to_dict(orient="records")
    for row in rows:
        for name, kind in columns:
            value = cell(row.get(name, ""))
            if kind == "strings":
                value = json.loads(value) if value else None
            elif kind != "string" and value == "":
                value = None
            elif kind == "bool":
                value = value == "True"
            row[name] = value
    return frame(rows, columns)
