"""A PostgreSQL server of a test's own (its own data folder and port) that it can freeze."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("no /usr/lib/postgresql/*/bin/initdb: install the postgresql package")
    return Path(found[-1]).parent


class OwnPostgres:
    """initdb in a folder owned by postgres, `postgres` on a free port; stop/continue all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Create the cluster and start the server; wait until it answers."""
        bin_dir = _binaries()
        shutil.chown(self.folder, "postgres", "postgres")
        # initdb and postgres refuse to run as root. Popen's user= rather than runuser: a
        # stopped child makes runuser stop itself, and it would never resume.
        as_postgres: dict[str, Any] = (
            {"user": "postgres", "group": "postgres", "extra_groups": []}
            if os.geteuid() == 0
            else {}
        )
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
             "-A", "trust", "--no-sync", "--no-instructions"],
            check=True,
            capture_output=True,
            **as_postgres,
        )  # fmt: skip
        self.process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **as_postgres,
        )  # fmt: skip
        engine = create_engine(self.url, connect_args={"connect_timeout": 2})
        deadline = time.monotonic() + 30
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        engine.dispose()

    def pids(self) -> list[int]:
        """Return the postmaster's pid and those of its children (backends, workers)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> None:
        """SIGSTOP every process of the server: it accepts TCP but answers nothing."""
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT every process of the server."""
        for pid in reversed(self.pids()):
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        """Let the server run again, then shut it down fast."""
        if self.process is None:
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            self.thaw()
            os.kill(self.pids()[0], signal.SIGINT)  # "fast" shutdown
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
