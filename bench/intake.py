"""Benchmark: intake throughput and latency next to /healthz, under gunicorn (2 workers).

Prints requests/s and p50/p99 latency of POST /api/v1/comments and GET /healthz at 8
concurrent clients with distinct IPs and texts, on SQLite and on PostgreSQL, and the CPU
each request cost the gunicorn workers and the PostgreSQL server (from /proc), which is
what bounds the ratio on a machine whose cores the clients share. A third row posts
comments with an invalid email (422): the same request through auth, parsing and
validation, without the database, the sanitizer or the classifier.
Usage: .venv/bin/python bench/intake.py [--seconds 10] [--clients 8] [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "bench_intake"
PORT = 8731


def prepare_database(kind: str, workdir: Path) -> str:
    """Create an empty migrated database and return its URL."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite'}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB}")
        conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"


def setup(env: dict[str, str]) -> str:
    """Run `flask setup` and return the demo site key it prints."""
    out = subprocess.run(
        [str(VENV_BIN / "flask"), "setup"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return next(line.split()[-1] for line in out.splitlines() if line.startswith("site key"))


def client_loop(
    worker: int, key: str, kind: str, seconds: float, out: multiprocessing.Queue
) -> None:
    """One client: sequential requests on a fresh connection each (gunicorn sync closes)."""
    latencies = []
    run = time.monotonic_ns()
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        n += 1
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        started = time.perf_counter()
        if kind in ("intake", "invalid"):
            body = json.dumps(
                {
                    "post_id": f"post-{n % 50}",
                    "author_name": f"Reader {worker}-{n}",
                    "author_email": f"reader{worker}x{n}r{run}@example.org"
                    if kind == "intake"
                    else f"reader{worker}x{n}r{run}@example..org",  # 422: no DB, no scoring
                    "author_ip": f"2001:db8:{worker:x}:{run % 65536:x}::{n:x}",
                    "content": f"Comment {n}/{run} from client {worker}: thanks for the article, "
                    "it explains <b>exactly</b> what I needed. https://example.org/ref",
                }
            )
            conn.request(
                "POST",
                "/api/v1/comments",
                body=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
        else:
            conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        conn.close()
        expected = {"intake": 201, "invalid": 422}.get(kind, 200)
        if response.status != expected:
            print(f"{kind}: unexpected status {response.status}", file=sys.stderr)
            break
    out.put(latencies)


def cpu_seconds(pids: list[int]) -> float:
    """Return the user+system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """Return the gunicorn worker processes of the arbiter."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def postgres_pids() -> list[int]:
    """Return the PostgreSQL server's processes (0 CPU is reported for SQLite)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def measure(
    kind: str, key: str, clients: int, seconds: float, workers: list[int] | None = None
) -> dict[str, float]:
    """Run `clients` processes against one endpoint and summarize."""
    ctx = multiprocessing.get_context("fork")
    db_pids = postgres_pids()
    cpu_before = (cpu_seconds(workers or []), cpu_seconds(db_pids))
    out = ctx.Queue()
    procs = [
        ctx.Process(target=client_loop, args=(i, key, kind, seconds, out)) for i in range(clients)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    latencies = [lat for _ in procs for lat in out.get(timeout=seconds + 60)]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    cpu_after = (cpu_seconds(workers or []), cpu_seconds(db_pids))
    latencies.sort()
    return {
        "server_cpu_ms": (cpu_after[0] - cpu_before[0]) / len(latencies) * 1000,
        "db_cpu_ms": (cpu_after[1] - cpu_before[1]) / len(latencies) * 1000,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def run(kind: str, clients: int, seconds: float, workers: int) -> None:
    """Benchmark one database kind and print a table."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = prepare_database(kind, workdir)
        env = {
            **os.environ,
            "FLASK_APP": "moderation",
            "MODERATION_DATABASE_URL": url,
            "MODERATION_SECRET_KEY": "bench",
        }
        key = setup(env)
        server = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{PORT}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            for _ in range(100):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
                    conn.request("GET", "/readyz")
                    conn.getresponse().read()
                    break
                except OSError:
                    time.sleep(0.1)
            measure("intake", key, clients, 2)  # warm up: classifier load, connections
            pids = worker_pids(server)
            health = measure("healthz", key, clients, seconds, pids)
            intake = measure("intake", key, clients, seconds, pids)
            invalid = measure("invalid", key, clients, seconds, pids)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\n{kind}: gunicorn {workers} workers, {clients} clients, {seconds:.0f} s each")
    print(
        f"{'endpoint':<24}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'worker CPU ms/req':>19}{'db CPU ms/req':>15}"
    )
    rows = (
        ("GET /healthz", health),
        ("POST /api/v1/comments", intake),
        ("  same, 422 bad email", invalid),
    )
    for name, r in rows:
        print(
            f"{name:<24}{r['requests']:>10}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
            f"{r['server_cpu_ms']:>19.2f}{r['db_cpu_ms']:>15.2f}"
        )
    ratio = intake["rps"] / health["rps"]
    goal = "met" if ratio >= 0.40 and intake["p99_ms"] <= 25 else "NOT met"
    print(f"intake/healthz throughput {ratio:.0%}; goal (>= 40 %, p99 <= 25 ms) {goal}")


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        run(kind, args.clients, args.seconds, args.workers)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
