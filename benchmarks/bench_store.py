"""Store benchmark (not a test): judgments per second on PostgreSQL vs SQLite, and with 2 app replicas vs 1.

    .venv/bin/python benchmarks/bench_store.py [--judgments 200] [--threads 8]

Everything is real and on loopback: a throw-away PostgreSQL cluster (fsync on, as deployed), a
`chroma run` server, `sandbox app` processes; the model is tests/fakeserver.py (instant answers), so
the app's own work is measured, not a model's. All ratios come from the same run.

1. Store: ``Store.add_judgment`` (judgment + its answer rows, one transaction) from N threads,
   PostgreSQL ÷ SQLite.
2. App: a judgment as a judge casts it through gradio_client (``/ask`` then ``/judge``, so three
   stored runs + one judgment), N concurrent judges: 1 app on PostgreSQL ÷ 1 app on SQLite, and
   2 replicas on PostgreSQL (judges split across both) ÷ 1 replica.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakeserver import FakeServer, Reply  # noqa: E402
from postgres import PASSWORD_ENV, Postgres  # noqa: E402
from services import AppProcess, ChromaServer  # noqa: E402

from sandbox.records import Judgment  # noqa: E402
from sandbox.store import Store  # noqa: E402


def store_rate(store: Store, n: int, threads: int) -> float:
    def cast(i: int) -> None:
        store.add_judgment(Judgment(comparison_id=f"c{i}", dataset="d", question_id=f"q{i % 20}", judge=f"j{i % 5}",
                                    run_ids={p: f"r{i}-{p}" for p in ("few-shot", "rag", "fine-tuned")},
                                    shown_order=["rag", "few-shot", "fine-tuned"], best="rag", ranks={"rag": 1}))

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(cast, range(n)))
    return n / (time.perf_counter() - start)


def app_rate(apps: list[AppProcess], n: int, threads: int) -> float:
    from gradio_client import Client

    local = threading.local()

    def cast(i: int) -> None:
        clients = local.__dict__.setdefault("clients", {})
        app = apps[i % len(apps)]
        client = clients.get(app.url) or clients.setdefault(app.url, Client(app.url, verbose=False, httpx_kwargs={"timeout": 300}))
        asked = client.predict(f"How fast does the pump run? {i}", "plant", True, "q1", api_name="/ask")
        client.predict(asked["comparison_id"], f"j{i % 5}", "A", None, None, None, "", api_name="/judge")

    with ThreadPoolExecutor(threads) as pool:  # warm-up: clients, embedder, BM25 cache, pools
        list(pool.map(cast, range(threads * 2)))
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(cast, range(n)))
    return n / (time.perf_counter() - start)


def workspace(root: Path, model_url: str, store: str, chroma: str) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests" / "e2e" / "conftest.py")
    e2e = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(e2e)
    e2e.make_workspace(root, model_url)
    with open(root / "sandbox.toml", "a", encoding="utf-8") as toml:
        toml.write(f'[store]\nurl = "{store}"\npassword_env = "{PASSWORD_ENV}"\n'
                   f'[index]\nchroma_url = "{chroma}"\nnamespace = "bench"\n')
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    n, threads = args.judgments, args.threads
    print(f"load avg at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp, Postgres(fsync=True) as pg:
        tmp = Path(tmp)
        os.environ[PASSWORD_ENV] = pg.password
        lite = store_rate(Store(tmp / "s.db"), n * 5, threads)
        post = store_rate(Store(pg.new_database(), password=pg.password), n * 5, threads)
        print(f"store add_judgment, {threads} threads: SQLite {lite:.0f}/s, PostgreSQL {post:.0f}/s, "
              f"ratio PG/SQLite {post / lite:.2f}")

        import subprocess

        with FakeServer(Reply("The pump runs at 42 rpm")) as model, ChromaServer(tmp / "chroma") as chroma:
            pg_url = pg.new_database()
            roots = {key: workspace(tmp / key, model.base_url, url, chroma.url) for key, url in
                     [("lite", f"sqlite:///{tmp / 'lite.db'}"), ("a", pg_url), ("b", pg_url)]}
            subprocess.run([sys.executable, "-m", "sandbox", "index", "plant"], cwd=roots["a"], check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
            with AppProcess(roots["lite"]) as app:
                app_lite = app_rate([app], n, threads)
            with AppProcess(roots["a"]) as a, AppProcess(roots["b"]) as b:
                one = app_rate([a], n, threads)
                two = app_rate([a, b], n, threads)
    print(f"app ask+judge, {threads} judges: 1 app SQLite {app_lite:.1f}/s, 1 app PostgreSQL {one:.1f}/s "
          f"(ratio PG/SQLite {one / app_lite:.2f}), 2 replicas PostgreSQL {two:.1f}/s (ratio 2/1 {two / one:.2f})")
    print(f"load avg at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
