"""Copy one store into another (a laptop's SQLite into the team's PostgreSQL): idempotent, resumable, verified.

Tables come from the source's own schema (so tables added by later migrations come along), in
foreign-key order, a page at a time by primary key; each page is upserted into the target in one
transaction. An interrupted copy is finished by running it again, and running it twice changes
nothing. Verification reads every source row back from the target and compares values, then compares
a checksum of ``judgments_flat`` (the analysts' view) over the source's judgments on both sides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from sandbox.errors import StoreError
from sandbox.store import Store

PAGE = 500
Progress = Callable[[int, int], None]  # (rows done, rows total)


class TableCopy(BaseModel):
    table: str
    source_rows: int
    verified_rows: int = 0  # source rows found in the target with equal values
    target_rows: int = 0  # all rows in the target (more when the team's store already had some)


class CopyReport(BaseModel):
    source: str
    target: str
    tables: list[TableCopy]
    flat_rows: int
    flat_checksum_source: str
    flat_checksum_target: str

    @property
    def verified(self) -> bool:
        return (all(t.verified_rows == t.source_rows for t in self.tables)
                and self.flat_checksum_source == self.flat_checksum_target)

    def summary(self) -> dict[str, Any]:
        return {**self.model_dump(), "verified": self.verified}


def copy_store(source: Store, target: Store, progress: Progress | None = None) -> CopyReport:
    """Upsert every row of ``source`` into ``target`` (same schema version), then verify."""
    if source.url == target.url:
        raise StoreError(f"Source and target are the same store ({source.url}).", "Pass another --to URL.")
    tables = _tables(source, target)
    total, done = sum(_count(source, name) for name in tables), 0
    for name, (src, dst) in tables.items():
        for rows in _pages(source, src):
            target.upsert_rows(dst, rows, key=tuple(c.name for c in dst.primary_key))
            done += len(rows)
            if progress:
                progress(done, total)
    if progress and not total:
        progress(0, 0)
    return verify(source, target)


def verify(source: Store, target: Store) -> CopyReport:
    """Every source row read back from the target and compared; the flat view's checksum on both sides."""
    report = []
    for name, (src, dst) in _tables(source, target).items():
        key = [c.name for c in src.primary_key]
        matched = 0
        for rows in _pages(source, src):
            wanted = {_key(r, key): r for r in rows}
            condition = sa.tuple_(*(dst.c[k] for k in key)).in_([sa.tuple_(*k) for k in wanted])
            with target.connect() as db:
                found = db.execute(sa.select(dst).where(condition)).mappings()
                matched += sum(_canon(row) == _canon(wanted[_key(row, key)]) for row in found)
        report.append(TableCopy(table=name, source_rows=_count(source, name), verified_rows=matched,
                                target_rows=_count(target, name)))
    judgment_ids = {j.id for j in source.judgments()}
    rows, source_sum = flat_checksum(source, judgment_ids)
    _, target_sum = flat_checksum(target, judgment_ids)
    return CopyReport(source=source.url, target=target.url, tables=report, flat_rows=rows,
                      flat_checksum_source=source_sum, flat_checksum_target=target_sum)


def flat_checksum(store: Store, judgment_ids: set[str] | None = None) -> tuple[int, str]:
    """(rows, sha256) of ``judgments_flat``, optionally only these judgments: equal data gives equal sums on any dialect."""
    rows = [_canon(r) for r in store.flat_judgments() if judgment_ids is None or r["judgment_id"] in judgment_ids]
    rows.sort(key=lambda r: (r["judgment_id"], r["pipeline"]))
    return len(rows), hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def _tables(source: Store, target: Store) -> dict[str, tuple[sa.Table, sa.Table]]:
    """name -> (source table, target table), parents before children; views and _migrations excluded."""
    src, dst = sa.MetaData(), sa.MetaData()
    src.reflect(source.engine)
    dst.reflect(target.engine)
    pairs = {}
    for table in src.sorted_tables:
        if table.name.startswith("_"):
            continue
        if table.name not in dst.tables:
            raise StoreError(f"The target {target.url} has no table {table.name!r}.",
                             "Open both stores with the same sandbox version (the target migrates when opened).")
        if not table.primary_key:
            raise StoreError(f"Table {table.name!r} has no primary key, so it cannot be copied idempotently.",
                             "Add a primary key in a migration.")
        pairs[table.name] = (table, dst.tables[table.name])
    return pairs


def _pages(store: Store, table: sa.Table) -> Iterator[list[dict[str, Any]]]:
    """All rows, PAGE at a time in primary-key order (keyset paging: memory stays flat, no OFFSET scans)."""
    key = list(table.primary_key)
    query = sa.select(table).order_by(*key).limit(PAGE)
    last = None
    while True:
        page_query = query if last is None else query.where(sa.tuple_(*key) > sa.tuple_(*last))
        with store.connect() as db:
            rows = [dict(r) for r in db.execute(page_query).mappings()]
        if not rows:
            return
        yield rows
        last = _key(rows[-1], [c.name for c in key])


def _count(store: Store, name: str) -> int:
    with store.connect() as db:
        return db.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()


def _key(row: Any, key: list[str]) -> tuple:
    return tuple(row[k] for k in key)


def _canon(row: Any) -> dict[str, Any]:
    """Values compared across dialects: numbers as floats (SQLite may hand back 1 where PostgreSQL has 1.0)."""
    return {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in dict(row).items()}
