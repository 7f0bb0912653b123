"""Learning curves in the store: one row per curve (its settings) and one per finished size.

A point is written when its fine-tune is known (status ``trained``: job and model) and again when its
eval is scored (``done``), so a killed run resumes from the last point it finished and never trains a
size twice. Points are kept whole as JSON next to the columns a reader filters on.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from sandbox.records import utcnow
from sandbox.store import Store, _ddl, _table, migration, transaction


@migration
def m007_learning_curves(db: sa.Connection) -> None:
    _ddl(db, "CREATE TABLE curves (id TEXT PRIMARY KEY, dataset TEXT NOT NULL, created_at TEXT, status TEXT, "
             "config TEXT NOT NULL)",
         "CREATE INDEX curves_dataset ON curves(dataset)",
         """CREATE TABLE curve_points (
            curve_id TEXT NOT NULL REFERENCES curves(id), size INTEGER NOT NULL, status TEXT NOT NULL,
            updated_at TEXT, record TEXT NOT NULL, PRIMARY KEY (curve_id, size))""")


CURVES = _table("curves", "id", "dataset", "created_at", "status", "config")
POINTS = _table("curve_points", "curve_id", "size", "status", "updated_at", "record")


def start_curve(store: Store, curve_id: str, dataset: str, config: dict[str, Any]) -> None:
    """Record a curve as running (a resumed one keeps its creation time)."""
    with transaction(store.engine) as db:
        store._upsert(db, CURVES, [{"id": curve_id, "dataset": dataset, "created_at": utcnow().isoformat(),
                                    "status": "running", "config": json.dumps(config)}], update=False)
        db.execute(sa.update(CURVES).where(CURVES.c.id == curve_id).values(status="running"))


def set_curve_status(store: Store, curve_id: str, status: str) -> None:
    with transaction(store.engine) as db:
        db.execute(sa.update(CURVES).where(CURVES.c.id == curve_id).values(status=status))


def save_point(store: Store, curve_id: str, size: int, status: str, record: dict[str, Any]) -> None:
    row = {"curve_id": curve_id, "size": size, "status": status, "updated_at": utcnow().isoformat(),
           "record": json.dumps(record)}
    with transaction(store.engine) as db:
        store._upsert(db, POINTS, [row], key=("curve_id", "size"))


def points(store: Store, curve_id: str) -> list[dict[str, Any]]:
    """The curve's stored points, smallest size first: ``{"size", "status", "record"}``."""
    query = (sa.select(POINTS.c.size, POINTS.c.status, POINTS.c.record).where(POINTS.c.curve_id == curve_id)
             .order_by(POINTS.c.size))
    with store.connect() as db:
        return [{"size": size, "status": status, "record": json.loads(record)} for size, status, record in db.execute(query)]


def curve(store: Store, curve_id: str) -> dict[str, Any] | None:
    query = sa.select(CURVES.c.id, CURVES.c.dataset, CURVES.c.created_at, CURVES.c.status, CURVES.c.config)
    with store.connect() as db:
        row = db.execute(query.where(CURVES.c.id == curve_id)).first()
    return _curve_row(row) if row else None


def latest_curve(store: Store, dataset: str) -> dict[str, Any] | None:
    """The dataset's most recently started curve that has a scored point (None: no curve yet)."""
    scored = sa.select(POINTS.c.curve_id).where(POINTS.c.status == "done")
    query = (sa.select(CURVES.c.id, CURVES.c.dataset, CURVES.c.created_at, CURVES.c.status, CURVES.c.config)
             .where(CURVES.c.dataset == dataset, CURVES.c.id.in_(scored))
             .order_by(CURVES.c.created_at.desc(), CURVES.c.id).limit(1))
    with store.connect() as db:
        row = db.execute(query).first()
    return _curve_row(row) if row else None


def _curve_row(row) -> dict[str, Any]:
    curve_id, dataset, created_at, status, config = row
    return {"id": curve_id, "dataset": dataset, "created_at": created_at, "status": status, "config": json.loads(config)}
