"""A throw-away PostgreSQL cluster for tests and benchmarks (Debian's ``postgresql`` package).

    with Postgres() as pg:
        url = pg.new_database()          # postgresql://sandbox@127.0.0.1:PORT/db_...
        os.environ[PASSWORD_ENV] = pg.password

``initdb`` + ``pg_ctl`` in a fresh temp dir, listening on a free loopback port only, password
(scram) authentication. PostgreSQL refuses to run as root, so under root the cluster runs as ``nobody``.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PASSWORD_ENV = "SANDBOX_TEST_PG_PASSWORD"
USER = "sandbox"


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server binary: on PATH, else the newest /usr/lib/postgresql/N/bin (Debian keeps them there)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, fsync: bool = False):
        self.fsync = fsync  # tests need no durability against power loss; the benchmark keeps the default
        self.password = secrets.token_urlsafe(12)
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sandbox-pg-"))
        self._serial = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True, cwd=self.root)

    def start(self) -> Postgres:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise FileNotFoundError("initdb/pg_ctl not found: apt-get install -y postgresql")
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "nobody")
            shutil.chown(pwfile, "nobody")
        self._run(initdb, "-D", str(self.data), "-U", USER, "--auth=scram-sha-256", f"--pwfile={pwfile}",
                  "--encoding=UTF8", "--no-instructions")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.fsync:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL (no password: that comes from the environment)."""
        import psycopg

        self._serial += 1
        name = f"db_{os.getpid()}_{self._serial}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
