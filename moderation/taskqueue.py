"""The task queue (huey): one instance per app, in app.extensions, and `flask worker`.

huey usually wants a module-level instance whose decorators register tasks at import
time. Here the instance is built by init_app from the app's config (a SQLite file by
default, Redis when QUEUE_URL says redis://) and lives in app.extensions; features
register their tasks on it in their own init_app with `register(app, name, func)`. A
task is a plain function `func(app, *args)` wrapped in a closure that pushes the app
context, so the same code runs in the web process (which only enqueues) and in the
worker (which runs). Task names are fixed strings, so producer and consumer agree
whatever module imported what.

Messages are JSON, not huey's default pickle: whoever can write to the queue (a
shared Redis) must not be able to run code in the worker. Tasks take ids, never rows.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

import click
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext
from huey import Huey
from huey import RedisHuey
from huey import SqliteHuey
from huey import crontab
from huey.api import TaskWrapper
from huey.registry import Message
from huey.serializer import Serializer

logger = logging.getLogger(__name__)

QUEUE = "moderation.taskqueue"
_DATETIME_FIELDS = frozenset({"eta", "expires", "expires_resolved"})


class JsonSerializer(Serializer):
    """Serialize huey's task messages as JSON (ids and numbers in, nothing executable)."""

    def _serialize(self, data: Any) -> bytes:
        if not isinstance(data, Message):
            raise TypeError("only task messages go through the queue (results are off)")
        if data.on_complete or data.on_error or data.chord_config:
            raise TypeError("pipelines and chords are not used here")
        fields = data._asdict()
        for name in _DATETIME_FIELDS:
            if isinstance(fields.get(name), datetime):
                fields[name] = {"datetime": fields[name].isoformat()}
        return json.dumps(fields, separators=(",", ":")).encode("utf-8")

    def _deserialize(self, data: bytes) -> Any:
        fields = json.loads(data)
        for name in _DATETIME_FIELDS:
            value = fields.get(name)
            if isinstance(value, dict) and "datetime" in value:
                fields[name] = datetime.fromisoformat(value["datetime"])
        fields["args"] = tuple(fields.get("args") or ())
        return Message(**fields)


@dataclass
class TaskQueue:
    """The app's huey instance and the tasks registered on it, by name."""

    huey: Huey
    tasks: dict[str, TaskWrapper] = field(default_factory=dict)
    _ready: bool = False

    def ready(self) -> Huey:
        """Return huey with its storage's tables made (once per process; idempotent)."""
        if not self._ready:
            if isinstance(self.huey, SqliteHuey):
                self.huey.storage.initialize_schema()
            self._ready = True
        return self.huey


def make_huey(url: str, name: str = "moderation") -> Huey:
    """Build huey for a queue URL: sqlite:///PATH (embedded) or redis://HOST:PORT/DB."""
    options: dict[str, Any] = {"results": False, "serializer": JsonSerializer(), "utc": True}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, **options)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # No fsync: an enqueue costs 0.04 ms instead of 5 ms on the request's path. A
        # message lost in an OS crash is found again by its task's sweep (the database,
        # not the queue, is the record of what is due).
        # create_tables=False: building the app opens no file; the tables are made by
        # the first enqueue or the worker's start (TaskQueue.ready).
        return SqliteHuey(name, filename=path, fsync=False, create_tables=False, **options)
    raise ValueError("MODERATION_QUEUE_URL must be sqlite:///PATH or redis://HOST:PORT/DB")


def init_app(app: Flask) -> None:
    """Build the app's huey instance from QUEUE_URL and add `flask worker`."""
    huey = make_huey(str(app.config["QUEUE_URL"]), str(app.config["QUEUE_NAME"]))
    app.extensions[QUEUE] = TaskQueue(huey)
    app.cli.add_command(worker_command)


def queue_of(app: Flask) -> TaskQueue:
    """Return the app's task queue."""
    queue: TaskQueue = app.extensions[QUEUE]
    return queue


def register(
    app: Flask,
    name: str,
    func: Callable[..., Any],
    *,
    every_minute: bool = False,
    **options: Any,
) -> TaskWrapper:
    """Register `func(app, *args)` as the task `name` (periodic when every_minute)."""
    queue = queue_of(app)

    def run(*args: Any) -> Any:
        with app.app_context():
            return func(app, *args)

    run.__name__ = name
    run.__doc__ = func.__doc__
    if every_minute:
        task = queue.huey.periodic_task(crontab(minute="*"), name=name, **options)(run)
    else:
        task = queue.huey.task(name=name, **options)(run)
    queue.tasks[name] = task
    return task


def enqueue(app: Flask, name: str, *args: Any, eta: datetime | None = None) -> bool:
    """Put a task on the queue (at `eta`, UTC-aware, if given); False if the queue is down.

    Callers must not depend on the enqueue for correctness: every task has a sweep that
    finds work whose enqueue was lost (the database is the source of truth).
    """
    queue = queue_of(app)
    task = queue.tasks[name]
    try:
        queue.ready()
        if eta is None:
            task(*args)
        else:
            task.schedule(args=args, eta=eta)
    except Exception:  # the queue's backend is down: the sweep will catch up
        logger.exception("could not enqueue %s%r", name, args)
        return False
    return True


def make_consumer(app: Flask, workers: int | None = None) -> Any:
    """Return a huey consumer for the app's queue (threads; short polls)."""
    config = app.config
    return (
        queue_of(app)
        .ready()
        .create_consumer(
            workers=int(workers or config["QUEUE_WORKERS"]),
            worker_type="thread",
            periodic=True,
            initial_delay=0.05,
            backoff=1.15,
            max_delay=float(config["QUEUE_POLL_SECONDS"]),
            check_worker_health=True,
        )
    )


StartupHook = Callable[[Flask], None]
STARTUP = "moderation.taskqueue.startup"


def on_worker_start(app: Flask, hook: StartupHook) -> None:
    """Run `hook(app)` whenever a worker starts (to pick up work a dead worker left)."""
    app.extensions.setdefault(STARTUP, []).append(hook)


def run_startup_hooks(app: Flask) -> None:
    """Run the hooks features registered for a starting worker."""
    for hook in app.extensions.get(STARTUP, []):
        try:
            hook(app)
        except Exception:  # one feature's catch-up must not keep the worker from starting
            logger.exception("worker start hook %s failed", getattr(hook, "__name__", hook))


@click.command("worker")
@click.option("--workers", type=int, default=None, help="worker threads (QUEUE_WORKERS)")
@with_appcontext
def worker_command(workers: int | None) -> None:
    """Run the background worker: webhook deliveries, e-mail, training jobs (Ctrl-C stops)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    from moderation.mail.sending import where_mail_goes

    click.echo(f"worker: queue {redact(str(app.config['QUEUE_URL']))}", err=True)
    click.echo(f"worker: {where_mail_goes(app.config)}", err=True)
    run_startup_hooks(app)
    make_consumer(app, workers).run()


def redact(url: str) -> str:
    """Return the URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url
