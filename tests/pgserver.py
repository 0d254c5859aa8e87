"""A throwaway PostgreSQL server for the tests and benchmarks: initdb and pg_ctl into a folder,
on a free loopback port, trust authentication, durability off (fsync, synchronous_commit,
full_page_writes: a test database is thrown away). As root, the server runs as `postgres`
(PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "digestbot"


def pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl: $PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found:
        folder = Path(os.path.realpath(found)).parent
        if (folder / "initdb").exists():
            return folder
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PgProcess:
    bin: Path
    root: Path
    port: int
    options: str
    host: str = "127.0.0.1"
    user: str = USER

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def ctl(self, *args: str) -> None:
        """pg_ctl on this server (restart, stop). No pipes: the server it starts would hold them
        open, and this would wait forever."""
        cmd = [
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            self.options,
            "-l",
            str(self.root / "log"),
        ]
        subprocess.run(
            as_server_user([*cmd, "-w", *args]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def stop(self) -> None:
        subprocess.run(
            as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(folder: Path) -> PgProcess:  # folder: where initdb and pg_ctl are (pg_bin())
    """Start a server; raises subprocess.CalledProcessError (with the tool's output) if it fails."""
    # Not under pytest's own folder: that one is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="digestbot-pg-"))
    (root / "run").mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(root / "run", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = (
        f"-p {port} -k {root / 'run'} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        " -c full_page_writes=off -c max_connections=200"
    )
    server = PgProcess(folder, root, port, options)
    subprocess.run(
        as_server_user(
            [
                str(folder / "initdb"),
                "-D",
                str(server.data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
        text=True,
    )
    server.ctl("start")
    return server
