"""A throwaway PostgreSQL server (tests, fault bench): initdb + pg_ctl on a temporary directory.

The server listens on a free loopback port with its unix socket inside the temporary directory,
runs with fsync off (nothing here must survive a power cut) and is stopped at the end. initdb
refuses to run as root, so under root (CI) the server runs as an unprivileged system user.
Each test gets its own empty database (`fresh_database`), so tests never see each other's rows.
"""

from __future__ import annotations

import glob
import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=32MB"
)
DB_USER = "kneebot"
TEMPLATE = "kneebot_migrated"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (run `make pg-binaries`)."""


@dataclass
class PostgresServer:
    """A running server; `url(name)` is the asyncpg SQLAlchemy URL of one of its databases."""

    port: int
    socket_dir: Path
    _names: Iterator[int] = field(default_factory=itertools.count)
    _template_ready: bool = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{DB_USER}@127.0.0.1:{self.port}/{database}"

    async def fresh_database(self, template: str = "template0") -> str:
        """Create a database (empty, or a copy of `template`) and return its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        await self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    async def migrated_database(self) -> str:
        """A database at the newest schema: a copy of one migrated once per session (fast)."""
        if not self._template_ready:
            from bot.storage.database import Database

            await self.execute(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0')
            database = Database(self.url(TEMPLATE))
            await database.migrate()
            await database.close()
            self._template_ready = True
        return await self.fresh_database(TEMPLATE)

    async def execute(self, sql: str) -> None:
        """One SQL statement outside any transaction (CREATE DATABASE cannot run inside one)."""
        import asyncpg

        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=DB_USER, database="postgres"
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


def server_binaries() -> Path:
    """The folder holding initdb/pg_ctl: PATH first, then Debian's versioned folders."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    spec = importlib.util.find_spec("pgserver")  # the PyPI fallback ships its own binaries
    if spec is not None and spec.origin is not None:
        folders.append(str(Path(spec.origin).parent / "pginstall" / "bin"))
    for folder in folders:
        if Path(folder, "initdb").exists():
            return Path(folder)
    raise PostgresUnavailable("initdb not found: run `make pg-binaries` (installs PostgreSQL)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_user() -> str | None:
    """None when we may run the server ourselves; else an unprivileged user to run it as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise PostgresUnavailable("running as root and no unprivileged user to run PostgreSQL as")


def _run(command: list[str], user: str | None) -> None:
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stdout}\n{result.stderr}")


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a server in a fresh temporary directory, yield it, stop it and remove the directory."""
    binaries = server_binaries()
    user = _server_user()
    # Not under pytest's tmp_path: that is private to root, and the server user must reach it.
    base = Path(tempfile.mkdtemp(prefix="kneebot-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir(parents=True)
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (base, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        base.chmod(0o700)
    _run(
        [str(binaries / "initdb"), "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8"]
        + ["--no-sync", "--no-instructions"],
        user,
    )
    port = free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
    pg_ctl = str(binaries / "pg_ctl")
    log = base / "server.log"
    _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"], user)
    try:
        yield PostgresServer(port=port, socket_dir=sockets)
    finally:
        _run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], user)
        shutil.rmtree(base, ignore_errors=True)
