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

huey is imported and built on the queue's first use (an enqueue, the worker), not when
the app is built: importing huey imports its every backend's client library (redis,
psycopg) whatever the URL, about 16 MB that a web worker which never enqueues (no
webhook endpoints, no training job) does not need.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

import click
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext

if TYPE_CHECKING:
    from huey import Huey

logger = logging.getLogger(__name__)

QUEUE = "moderation.taskqueue"
_DATETIME_FIELDS = frozenset({"eta", "expires", "expires_resolved"})


class JsonSerializer:
    """Serialize huey's task messages as JSON (ids and numbers in, nothing executable).

    huey only calls serialize and deserialize; its own Serializer (pickle) is not a base.
    """

    def serialize(self, data: Any) -> bytes:
        """Return a task message as JSON bytes."""
        from huey.registry import Message

        if not isinstance(data, Message):
            raise TypeError("only task messages go through the queue (results are off)")
        if data.on_complete or data.on_error or data.chord_config:
            raise TypeError("pipelines and chords are not used here")
        fields = data._asdict()
        for name in _DATETIME_FIELDS:
            if isinstance(fields.get(name), datetime):
                fields[name] = {"datetime": fields[name].isoformat()}
        return json.dumps(fields, separators=(",", ":")).encode("utf-8")

    def deserialize(self, data: bytes) -> Any:
        """Return the task message of JSON bytes."""
        from huey.registry import Message

        fields = json.loads(data)
        for name in _DATETIME_FIELDS:
            value = fields.get(name)
            if isinstance(value, dict) and "datetime" in value:
                fields[name] = datetime.fromisoformat(value["datetime"])
        fields["args"] = tuple(fields.get("args") or ())
        return Message(**fields)


@dataclass
class Registration:
    """A task as a feature registered it, before huey is built."""

    name: str
    run: Callable[..., Any]
    every_minute: bool
    options: dict[str, Any]


@dataclass
class TaskQueue:
    """The app's queue: huey (built on first use) and its tasks, by name."""

    url: str
    name: str = "moderation"
    registrations: list[Registration] = field(default_factory=list)
    tasks: dict[str, Any] = field(default_factory=dict)
    _huey: Any = None
    _ready: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def huey(self) -> Huey:
        """Return huey, built (with every registered task) on the first call."""
        return self._build()

    def _build(self) -> Huey:
        if self._huey is None:
            with self._lock:
                if self._huey is None:
                    huey = make_huey(self.url, self.name)
                    for registration in self.registrations:
                        self.tasks[registration.name] = _wrap(huey, registration)
                    self._huey = huey
        return self._huey

    def add(self, registration: Registration) -> None:
        """Register a task (on huey at once if it is built already)."""
        with self._lock:
            self.registrations.append(registration)
            if self._huey is not None:
                self.tasks[registration.name] = _wrap(self._huey, registration)

    def task(self, name: str) -> Any:
        """Return the huey task registered as `name`."""
        self._build()
        return self.tasks[name]

    def ready(self) -> Huey:
        """Return huey with its storage's tables made (once per process; idempotent)."""
        huey = self.huey
        if not self._ready:
            from huey import SqliteHuey

            if isinstance(huey, SqliteHuey):
                huey.storage.initialize_schema()
            self._ready = True
        return huey


def _wrap(huey: Huey, registration: Registration) -> Any:
    if registration.every_minute:
        from huey import crontab

        decorate = huey.periodic_task(
            crontab(minute="*"), name=registration.name, **registration.options
        )
    else:
        decorate = huey.task(name=registration.name, **registration.options)
    return decorate(registration.run)


def check_url(url: str) -> None:
    """Refuse a queue URL that is neither sqlite:///PATH nor redis://HOST:PORT/DB."""
    if not url.startswith(("redis://", "rediss://", "unix://", "sqlite:///")):
        raise ValueError("MODERATION_QUEUE_URL must be sqlite:///PATH or redis://HOST:PORT/DB")


def make_huey(url: str, name: str = "moderation") -> Huey:
    """Build huey for a queue URL: sqlite:///PATH (embedded) or redis://HOST:PORT/DB."""
    check_url(url)
    from huey import RedisHuey
    from huey import SqliteHuey

    options: dict[str, Any] = {"results": False, "serializer": JsonSerializer(), "utc": True}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, **options)
    path = url.removeprefix("sqlite:///")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # No fsync: an enqueue costs 0.04 ms instead of 5 ms on the request's path. A
    # message lost in an OS crash is found again by its task's sweep (the database,
    # not the queue, is the record of what is due).
    # create_tables=False: building huey opens no file; the tables are made by the
    # first enqueue or the worker's start (TaskQueue.ready).
    return SqliteHuey(name, filename=path, fsync=False, create_tables=False, **options)


def init_app(app: Flask) -> None:
    """Set up the app's task queue from QUEUE_URL (huey is built on first use) and add
    `flask worker`."""
    url = str(app.config["QUEUE_URL"])
    check_url(url)
    app.extensions[QUEUE] = TaskQueue(url, str(app.config["QUEUE_NAME"]))
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
) -> None:
    """Register `func(app, *args)` as the task `name` (periodic when every_minute)."""

    def run(*args: Any) -> Any:
        with app.app_context():
            return func(app, *args)

    run.__name__ = name
    run.__doc__ = func.__doc__
    queue_of(app).add(Registration(name, run, every_minute, options))


def enqueue(app: Flask, name: str, *args: Any, eta: datetime | None = None) -> bool:
    """Put a task on the queue (at `eta`, UTC-aware, if given); False if the queue is down.

    Callers must not depend on the enqueue for correctness: every task has a sweep that
    finds work whose enqueue was lost (the database is the source of truth).
    """
    queue = queue_of(app)
    try:
        task = queue.task(name)
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
    consumer = make_consumer(app, workers)
    # What start-up made lives as long as the worker: a full collection need not walk it
    # again (about 200,000 objects, 0.1 s of memory traffic that the web process feels).
    gc.freeze()
    consumer.run()


def redact(url: str) -> str:
    """Return the URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url
