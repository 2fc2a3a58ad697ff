"""Benchmark: webhook delivery latency, and what an endpoint costs the intake.

Sets up a fresh database (SQLite, or PostgreSQL with --db postgresql), the shipped
classifier, a site with one webhook endpoint pointing at a local receiver (a threaded HTTP
server in this process), and `flask worker` in its own process. Then:

1. Intake: rounds of N comments posted one after another through the app (Flask's test
   client, in this process), alternating the endpoint disabled (no event written) and
   enabled (comment.created written to the outbox and delivered); prints comments/s and
   this process's CPU a comment per round, and the median of each kind. With
   --intake-only no worker runs: what the request path itself costs. With
   --events comment.erased the endpoint wants nothing the intake writes, so its rounds
   differ from the others in nothing: an A/A run, which shows the method's own noise.
   With --request-path, no worker and no rounds: comments alternate one by one between
   the site with the endpoint and a second site without one, and the bench prints what
   an event adds to a comment's own request (median, in µs and %). Neighbouring requests
   share the machine's state, so this is precise to a few µs where rounds are not; it
   leaves out the worker sharing the machine, which the rounds include.
2. 1,000 status changes (moderator approvals) as fast as one client makes them; waits until
   every comment.status_changed has arrived, and prints p50/p95/max from the change (the
   event's timestamp, taken in the change's transaction) to its arrival at the receiver.

Usage: nice .venv/bin/python bench/webhooks.py [--db sqlite|postgresql] [--changes 1000]
       [--round 200] [--rounds 3] [--workers 4] [--intake-only] [--events comment.created,…]
       [--request-path [--comments 3000]]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "bench_webhooks"


def serve_receiver(
    port_out: multiprocessing.Queue, asks: multiprocessing.Queue, answers: multiprocessing.Queue
) -> None:
    """Receive webhooks in a process of its own; hand over what arrived when asked.

    A lean receiver (a thread per kept-alive connection, httptools' parser): it shares
    the intake's two cores here, which a real receiver on another host never does, so
    it should take as little CPU and memory traffic as it can. http.server took about
    0.3 ms a request. A request only notes its arrival time and body; the bench's ask
    for (type, id, seconds since the event) does the JSON work, after the intake rounds.
    """
    import httptools

    got: list[tuple[float, bytes, bytes]] = []

    class Request:
        def __init__(self) -> None:
            self.headers: dict[bytes, bytes] = {}
            self.body = bytearray()
            self.done = False

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers[name.lower()] = value

        def on_body(self, body: bytes) -> None:
            self.body += body

        def on_message_complete(self) -> None:
            self.done = True

    def talk(conn: socket.socket) -> None:
        with conn:
            request = Request()
            parser = httptools.HttpRequestParser(request)
            while data := conn.recv(65536):
                parser.feed_data(data)
                if request.done:  # the sender waits for each answer (no pipelining)
                    got.append((time.time(), bytes(request.body), request.headers[b"webhook-id"]))
                    conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
                    request.headers, request.body, request.done = {}, bytearray(), False

    def answer() -> None:
        while True:
            asks.get()
            count = len(got)  # appends may go on meanwhile: they stay for the next ask
            taken = got[:count]
            del got[:count]
            arrived = []
            for now, body, msg_id in taken:
                payload = json.loads(body)
                sent = datetime.fromisoformat(payload["timestamp"]).timestamp()
                arrived.append((payload["type"], msg_id.decode(), now - sent))
            answers.put(arrived)

    threading.Thread(target=answer, daemon=True).start()
    server = socket.create_server(("127.0.0.1", 0))
    port_out.put(server.getsockname()[1])
    while True:
        conn, _ = server.accept()
        threading.Thread(target=talk, args=(conn,), daemon=True).start()


class Receiver:
    """A receiver process (so its work does not share the intake's interpreter lock)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, str, float]] = []
        self._asks: multiprocessing.Queue = multiprocessing.Queue()
        self._answers: multiprocessing.Queue = multiprocessing.Queue()
        port_out: multiprocessing.Queue = multiprocessing.Queue()
        self.process = multiprocessing.Process(
            target=serve_receiver, args=(port_out, self._asks, self._answers), daemon=True
        )
        self.process.start()
        self.url = f"http://127.0.0.1:{port_out.get(timeout=30)}/hook"

    def of_type(self, kind: str) -> list[tuple[str, str, float]]:
        self._asks.put(None)
        self.arrivals.extend(self._answers.get(timeout=60))
        return [a for a in self.arrivals if a[0] == kind]

    def stop(self) -> None:
        self.process.terminate()


def database_url(kind: str, workdir: Path) -> str:
    """Create an empty database and return its URL."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite'}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB}")
        conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"


def last_line(args: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def cpu_seconds(pid: int) -> float:
    """Return the user+system CPU a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def comment_json(number: int) -> dict[str, str]:
    """Return the bench's comment number `number` (unique author, address and text)."""
    return {
        "post_id": f"post-{number % 50}",
        "author_name": f"Reader {number}",
        "author_email": f"reader{number}@example.org",
        "author_ip": f"2001:db8::{number >> 16:x}:{number & 0xFFFF:x}",
        "content": f"Comment {number}: thanks for the article, it explains"
        " exactly what I needed to know about this.",
    }


def request_path_cost(
    client: FlaskClient, with_endpoint: dict[str, str], without: dict[str, str], comments: int
) -> None:
    """Post comments alternately to the two sites; print what an event adds to a request."""
    times: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    warm_up = 100
    for number in range(comments + warm_up):
        enabled = number % 2 == 0
        started, own = time.perf_counter(), time.process_time()
        answer = client.post(
            "/api/v1/comments",
            json=comment_json(1_000_000 + number),
            headers=with_endpoint if enabled else without,
        )
        elapsed, used = time.perf_counter() - started, time.process_time() - own
        assert answer.status_code == 201, answer.get_json()
        if number >= warm_up:
            times[enabled].append(elapsed)
            cpu[enabled].append(used)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"request path, {comments} comments alternating between the two sites (no worker):")
    for enabled in (False, True):
        label = "yes" if enabled else "no "
        print(
            f"  endpoint {label}: median {statistics.median(times[enabled]) * 1000:.3f} ms,"
            f" mean {statistics.mean(times[enabled]) * 1000:.3f} ms,"
            f" CPU mean {statistics.mean(cpu[enabled]) * 1000:.3f} ms"
        )
    print(
        f"an event adds to its comment's request: median {(on - off) * 1e6:.0f} µs"
        f" ({(on / off - 1) * 100:+.1f} %), mean"
        f" {(statistics.mean(times[True]) / statistics.mean(times[False]) - 1) * 100:+.1f} %"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--round", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--intake-only",
        action="store_true",
        help="no worker: the intake rounds only (what the outbox itself costs a comment)",
    )
    parser.add_argument(
        "--request-path",
        action="store_true",
        help="no worker: alternate comments between a site with the endpoint and one without",
    )
    parser.add_argument("--comments", type=int, default=3000, help="with --request-path")
    parser.add_argument(
        "--events",
        default="comment.created,comment.status_changed",
        help="what the endpoint wants (comment.erased alone: an A/A run)",
    )
    args = parser.parse_args()
    events = args.events.split(",")

    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    config = {
        "DATABASE_URL": database_url(args.db, workdir),
        "QUEUE_URL": f"sqlite:///{workdir / 'queue.sqlite'}",
        "SECRET_KEY": "bench-secret",
        "WEBHOOKS_ALLOW_PRIVATE": True,
        "FLOOD_SECONDS": 0,
        "SITE_KEY_TTL_SECONDS": 60,
        "SETTINGS_TTL_SECONDS": 60,
    }
    # The caller's MODERATION_WEBHOOKS_* settings reach the worker (to try other timings);
    # nothing else of the caller's configuration does.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MODERATION_") or k.startswith("MODERATION_WEBHOOKS_")
    }
    env.update({f"MODERATION_{k}": json.dumps(v) for k, v in config.items()})
    env["FLASK_APP"] = "moderation"
    flask = str(VENV_BIN / "flask")
    setup = subprocess.run([flask, "setup"], env=env, capture_output=True, text=True, check=True)
    site_key = next(
        line.split()[-1] for line in setup.stdout.splitlines() if line.startswith("site key")
    )
    admin_token = last_line([flask, "users", "token", "admin@example.org"], env)

    sys.path.insert(0, str(ROOT))
    from moderation import create_app

    app = create_app({**config, "TESTING": False})
    client = app.test_client()
    site = {"Authorization": f"Bearer {site_key}"}
    admin = {"Authorization": f"Bearer {admin_token}"}
    if args.request_path:
        # Nothing is delivered: the endpoint only makes the intake write its events.
        wanted = {"url": "http://127.0.0.1:9/hook", "events": events}
        assert client.post("/api/v1/webhooks", json=wanted, headers=site).status_code == 201
        other = last_line([flask, "sites", "create", "bench-other"], env)
        request_path_cost(client, site, {"Authorization": f"Bearer {other}"}, args.comments)
        return

    receiver = Receiver()
    worker = subprocess.Popen(
        [flask, "worker", "--workers", str(args.workers)]
        if not args.intake_only
        else [sys.executable, "-c", "import time; time.sleep(3600)"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "worker.log", "wb"),  # noqa: SIM115 (lives as long as the worker)
        start_new_session=True,
    )
    made = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": events},
        headers=site,
    )
    assert made.status_code == 201, made.get_json()
    endpoint = made.get_json()["id"]
    time.sleep(3)  # the worker starts

    counter = 0
    comment_ids: list[int] = []

    others = {"worker": worker.pid, "receiver": receiver.process.pid}
    others_cpu: dict[bool, dict[str, float]] = {False: {}, True: {}}

    def post_round(n: int, enabled: bool | None = None) -> tuple[float, float]:
        """Post n comments; return comments/s and this process's CPU ms a comment.

        The worker's and the receiver's CPU during the round is added to others_cpu.
        """
        nonlocal counter
        before = {name: cpu_seconds(pid) for name, pid in others.items()}
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            counter += 1
            answer = client.post("/api/v1/comments", json=comment_json(counter), headers=site)
            assert answer.status_code == 201, answer.get_json()
            comment_ids.append(answer.get_json()["id"])
        rate, own = n / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / n
        if enabled is not None:
            for name, pid in others.items():
                used = others_cpu[enabled].get(name, 0.0) + cpu_seconds(pid) - before[name]
                others_cpu[enabled][name] = used
        return rate, own

    print(f"database {args.db}, queue SQLite file, {args.workers} worker threads")
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    post_round(20)  # warm-up
    for number in range(args.rounds):
        # Each round is a pair, in turn off-on and on-off, so that a drift (the tables grow,
        # the worker's backlog) falls on both sides of a pair alike.
        for enabled in (False, True) if number % 2 == 0 else (True, False):
            client.patch(f"/api/v1/webhooks/{endpoint}", json={"enabled": enabled}, headers=site)
            rate, cpu = post_round(args.round, enabled)
            rates[enabled].append(rate)
            cpus[enabled].append(cpu)
            print(
                f"  intake, endpoint {'enabled ' if enabled else 'disabled'}: {rate:7.1f}/s,"
                f" {cpu:.3f} ms CPU a comment"
            )
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    cpu_without, cpu_with = statistics.median(cpus[False]), statistics.median(cpus[True])
    # Wall time is what the goal is about; the intake's CPU (this process: the app and its
    # client) is steadier on a shared machine, and shows what the request path itself adds.
    print(
        f"intake CPU median: without endpoint {cpu_without:.3f} ms, with {cpu_with:.3f} ms"
        f" ({(cpu_with / cpu_without - 1) * 100:+.1f} %)"
    )
    # CPU the other processes took while the intake ran: on 2 cores, the intake's rival.
    for enabled in (False, True):
        used = ", ".join(
            f"{name} {seconds * 1000 / (args.rounds * args.round):.3f} ms"
            for name, seconds in others_cpu[enabled].items()
        )
        state = "on " if enabled else "off"
        print(f"  CPU a comment during rounds with the endpoint {state}: {used}")
    print(
        f"intake median: without endpoint {without:.1f}/s, with {with_:.1f}/s"
        f" ({(with_ / without - 1) * 100:+.1f} %)"
    )
    # The pairs compared one by one: steadier than two medians on a machine whose speed drifts.
    paired = sorted(on / off - 1 for on, off in zip(rates[True], rates[False], strict=True))
    quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    print(
        f"intake, with endpoint against without, pair by pair: median"
        f" {statistics.median(paired) * 100:+.1f} % (quartiles {quartiles[0] * 100:+.1f} %,"
        f" {quartiles[2] * 100:+.1f} %; {len(paired)} pairs)"
    )

    if args.intake_only or "comment.status_changed" not in events:
        os.killpg(worker.pid, 9 if args.intake_only else 2)
        worker.wait(15)
        receiver.stop()
        return
    # Status changes: approve (or reject, if already approved) `changes` comments, with the
    # endpoint enabled (the last intake round may have left it disabled).
    client.patch(f"/api/v1/webhooks/{endpoint}", json={"enabled": True}, headers=site)
    changes = min(args.changes, len(comment_ids))
    if changes < args.changes:
        post_round(args.changes - changes)
        changes = args.changes
    worker_cpu = cpu_seconds(worker.pid)
    own_cpu = time.process_time()
    started = time.perf_counter()
    for comment_id in comment_ids[:changes]:
        current = client.get(f"/api/v1/comments/{comment_id}", headers=admin).get_json()
        action = "reject" if current["status"] == "approved" else "approve"
        answer = client.post(f"/api/v1/comments/{comment_id}/{action}", json={}, headers=admin)
        assert answer.status_code == 200, answer.get_json()
    made_in = time.perf_counter() - started
    deadline = time.monotonic() + 300
    while len({a[1] for a in receiver.of_type("comment.status_changed")}) < changes:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    waited = time.perf_counter() - started
    worker_cpu = cpu_seconds(worker.pid) - worker_cpu
    own_cpu = time.process_time() - own_cpu
    arrived = receiver.of_type("comment.status_changed")
    unique = {}
    for _kind, msg_id, latency in arrived:
        unique.setdefault(msg_id, latency)
    latencies = list(unique.values())
    print(
        f"{changes} status changes made in {made_in:.1f} s ({changes / made_in:.0f}/s);"
        f" {len(unique)} delivered ({len(arrived) - len(unique)} duplicates) after {waited:.1f} s"
    )
    print(
        f"CPU: the worker {worker_cpu * 1000 / changes:.1f} ms a delivery; the app making"
        f" the changes {own_cpu * 1000 / changes:.1f} ms a change (GET + POST)"
    )
    if latencies:
        print(
            f"change -> delivery: p50 {percentile(latencies, 0.5) * 1000:.0f} ms,"
            f" p95 {percentile(latencies, 0.95) * 1000:.0f} ms,"
            f" max {max(latencies) * 1000:.0f} ms"
        )
    os.killpg(worker.pid, 2)
    worker.wait(15)
    receiver.stop()


if __name__ == "__main__":
    main()
