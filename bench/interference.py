"""Benchmark: what a background process of the webhook worker's size costs the intake here.

`bench/webhooks.py` compares the intake with an endpoint and without, while the worker
and a stand-in receiver run on the same machine. This script asks how much of that any
background work of that size costs on this machine, whatever it does: the intake (as in
webhooks.py: Flask's test client, SQLite, no endpoint, no worker) runs in rounds that
alternate with and without a rival process which touches nothing of ours. The rival
does plain Python work (JSON and hashing) for --busy-ms, then sleeps --idle-ms, again
and again: by default about what the worker and the receiver took a comment in
webhooks.py's rounds (0.3 to 0.4 ms of CPU against the intake's 2.5 to 3 ms).

Usage: .venv/bin/python bench/interference.py [--rounds 12] [--round 200]
       [--busy-ms 0.4] [--idle-ms 2.6]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"

RIVAL = """
import hashlib, json, sys, time
busy, idle = float(sys.argv[1]) / 1000, float(sys.argv[2]) / 1000
doc = [{"id": i, "text": "thanks for the article " * 3, "score": i / 7} for i in range(20)]
while True:
    until = time.perf_counter() + busy
    while time.perf_counter() < until:
        hashlib.sha256(json.dumps(json.loads(json.dumps(doc))).encode()).digest()
    if idle:
        time.sleep(idle)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--round", type=int, default=200)
    parser.add_argument("--busy-ms", type=float, default=0.4)
    parser.add_argument("--idle-ms", type=float, default=2.6)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-interference-"))
    config = {
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite'}",
        "QUEUE_URL": f"sqlite:///{workdir / 'queue.sqlite'}",
        "SECRET_KEY": "bench-secret",
        "FLOOD_SECONDS": 0,
        "SITE_KEY_TTL_SECONDS": 60,
        "SETTINGS_TTL_SECONDS": 60,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env.update({f"MODERATION_{k}": json.dumps(v) for k, v in config.items()})
    env["FLASK_APP"] = "moderation"
    setup = subprocess.run(
        [str(VENV_BIN / "flask"), "setup"], env=env, capture_output=True, text=True, check=True
    )
    site_key = next(
        line.split()[-1] for line in setup.stdout.splitlines() if line.startswith("site key")
    )
    rival = subprocess.Popen(
        [sys.executable, "-c", RIVAL, str(args.busy_ms), str(args.idle_ms)],
        start_new_session=True,
    )
    rival.send_signal(signal.SIGSTOP)
    sys.path.insert(0, str(ROOT))
    from moderation import create_app

    client = create_app({**config, "TESTING": False}).test_client()
    site = {"Authorization": f"Bearer {site_key}"}
    counter = 0

    def post_round(n: int) -> tuple[float, float]:
        """Post n comments; return comments/s and this process's CPU ms a comment."""
        nonlocal counter
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            counter += 1
            answer = client.post(
                "/api/v1/comments",
                json={
                    "post_id": f"post-{counter % 50}",
                    "author_name": f"Reader {counter}",
                    "author_email": f"reader{counter}@example.org",
                    "author_ip": f"2001:db8::{counter:x}",
                    "content": f"Comment {counter}: thanks for the article, it explains"
                    " exactly what I needed to know about this.",
                },
                headers=site,
            )
            assert answer.status_code == 201, answer.get_json()
        return n / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / n

    def rival_cpu() -> float:
        fields = Path(f"/proc/{rival.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    duty = args.busy_ms / (args.busy_ms + args.idle_ms)
    print(f"rival: {args.busy_ms} ms busy, {args.idle_ms} ms asleep ({duty:.0%} of a core)")
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    rival_used = 0.0
    post_round(20)  # warm-up
    try:
        for number in range(args.rounds):
            for running in (False, True) if number % 2 == 0 else (True, False):
                before = rival_cpu()
                rival.send_signal(signal.SIGCONT if running else signal.SIGSTOP)
                rate, cpu = post_round(args.round)
                rival.send_signal(signal.SIGSTOP)
                rival_used += rival_cpu() - before
                rates[running].append(rate)
                cpus[running].append(cpu)
                print(
                    f"  intake, rival {'running' if running else 'stopped'}: {rate:7.1f}/s,"
                    f" {cpu:.3f} ms CPU a comment"
                )
    finally:
        rival.kill()
    comments = args.rounds * args.round
    print(f"the rival used {rival_used * 1000 / comments:.3f} ms CPU a comment while it ran")
    cpu_off, cpu_on = statistics.median(cpus[False]), statistics.median(cpus[True])
    print(
        f"intake CPU median: rival stopped {cpu_off:.3f} ms, running {cpu_on:.3f} ms"
        f" ({(cpu_on / cpu_off - 1) * 100:+.1f} %)"
    )
    paired = sorted(on / off - 1 for on, off in zip(rates[True], rates[False], strict=True))
    quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    print(
        f"intake, rival running against stopped, pair by pair: median"
        f" {statistics.median(paired) * 100:+.1f} % (quartiles {quartiles[0] * 100:+.1f} %,"
        f" {quartiles[2] * 100:+.1f} %; {len(paired)} pairs)"
    )


if __name__ == "__main__":
    main()
