"""A real WordPress for the end-to-end tests: Debian's package, PHP's server, MariaDB."""

from __future__ import annotations

import html
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

WORDPRESS = Path(os.environ.get("MODERATION_TEST_WORDPRESS", "/usr/share/wordpress"))
INTEGRATION = Path(__file__).resolve().parents[1] / "integrations" / "wordpress"
PLUGIN = "moderation-connector/moderation-connector.php"
MYSQL = [
    "mysql",
    "--protocol=TCP",
    "-h127.0.0.1",
    "-P3306",
    "-uroot",
    "--batch",
    "--skip-column-names",
]
ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"
SALTS = (
    "AUTH_KEY",
    "SECURE_AUTH_KEY",
    "LOGGED_IN_KEY",
    "NONCE_KEY",
    "AUTH_SALT",
    "SECURE_AUTH_SALT",
    "LOGGED_IN_SALT",
    "NONCE_SALT",
)


def free_port() -> int:
    """Return a port nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Call `check` until it returns something true; return it, or None after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


class LiveService:
    """The moderation service on a real port, stopped and started again on the same port."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve (threaded werkzeug) until stop()."""
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: connections are refused until start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None


class FormParser(HTMLParser):
    """Collect the fields of one HTML form (by id) as a browser would submit them."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            if kind not in ("submit", "button", "image"):
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def form_fields(page: str, form_id: str) -> dict[str, str]:
    """Return the submitted fields of the form with this id."""
    parser = FormParser(form_id)
    parser.feed(page)
    return parser.fields


class WordPress:
    """A WordPress root of its own in a temp folder, served by `php -S`, on its own database."""

    def __init__(self, folder: Path, service_url: str) -> None:
        self.folder = folder
        self.root = folder / "root"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = "wp_test_" + secrets.token_hex(4)
        self.service_url = service_url
        self.constants: dict[str, Any] = {}
        self.server: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=30.0, follow_redirects=False)

    # --- set up and tear down ---

    def build(self) -> None:
        """Copy WordPress's files (not Debian's wp-config.php) and make wp-content."""
        shutil.copytree(
            WORDPRESS,
            self.root,
            ignore=shutil.ignore_patterns("wp-content", "wp-config.php", ".htaccess"),
            copy_function=link_or_copy,
        )
        content = self.root / "wp-content"
        (content / "plugins").mkdir(parents=True)
        (content / "mu-plugins").mkdir()
        (content / "uploads").mkdir()
        (content / "themes").symlink_to(WORDPRESS / "wp-content" / "themes")
        shutil.copytree(
            WORDPRESS / "wp-content" / "plugins" / "akismet", content / "plugins" / "akismet"
        )
        (content / "plugins" / "moderation-connector").symlink_to(
            INTEGRATION / "moderation-connector"
        )
        # Test only: WordPress's own 15 s flood check would refuse the test's quick comments.
        (content / "mu-plugins" / "test-no-flood.php").write_text(
            "<?php remove_action( 'check_comment_flood', 'check_comment_flood_db' );\n"
        )
        self.write_config()
        self.sql(f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4")

    def write_config(self, **constants: Any) -> None:
        """Write wp-config.php with our database, URLs and the given extra constants."""
        self.constants.update(constants)
        salts = "".join(f"define( '{name}', '{secrets.token_hex(32)}' );\n" for name in SALTS)
        extra = "".join(
            f"define( '{name}', {php_value(value)} );\n"
            for name, value in self.constants.items()
            if value is not None
        )
        (self.root / "wp-config.php").write_text(
            "<?php\n"
            f"define( 'DB_NAME', '{self.database}' );\n"
            "define( 'DB_USER', 'root' );\ndefine( 'DB_PASSWORD', '' );\n"
            "define( 'DB_HOST', '127.0.0.1:3306' );\ndefine( 'DB_CHARSET', 'utf8mb4' );\n"
            "define( 'DB_COLLATE', '' );\n"
            f"{salts}"
            "$table_prefix = 'wp_';\n"
            f"define( 'WP_HOME', '{self.url}' );\ndefine( 'WP_SITEURL', '{self.url}' );\n"
            # WP-Cron runs when the test calls wp-cron.php, not on page loads.
            "define( 'DISABLE_WP_CRON', true );\n"
            "define( 'AUTOMATIC_UPDATER_DISABLED', true );\n"
            # No calls to wordpress.org: the machine may be offline; local hosts stay allowed.
            "define( 'WP_HTTP_BLOCK_EXTERNAL', true );\n"
            f"{extra}"
            "if ( ! defined( 'ABSPATH' ) ) { define( 'ABSPATH', __DIR__ . '/' ); }\n"
            "require_once ABSPATH . 'wp-settings.php';\n"
        )

    def start(self) -> None:
        """Serve the root with PHP's server (4 workers: cron and REST loopbacks)."""
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "4"}
        self._log = log = (self.folder / "php.log").open("wb")
        self.server = subprocess.Popen(
            # No opcache: the test rewrites wp-config.php, which a cache could serve stale.
            [
                "php",
                "-d",
                "opcache.enable=0",
                "-S",
                f"127.0.0.1:{self.port}",
                "-t",
                str(self.root),
            ],
            cwd=self.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: close() stops the workers too
        )
        if not wait_until(self._listening, 15):
            raise RuntimeError(f"php -S did not start: {(self.folder / 'php.log').read_text()}")

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def close(self) -> None:
        """Stop PHP's server and drop the database."""
        self.http.close()
        if self.server is not None:
            # PHP's server forks PHP_CLI_SERVER_WORKERS children, which outlive a SIGTERM
            # sent to the parent alone: signal the whole group.
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
            self._log.close()
        self.sql(f"DROP DATABASE IF EXISTS {self.database}")

    def sql(self, statement: str) -> list[list[str]]:
        """Run SQL with MariaDB's client; return the rows as lists of strings."""
        args = [*MYSQL]
        if not statement.upper().startswith(("CREATE DATABASE", "DROP DATABASE")):
            args.append(self.database)
        done = subprocess.run(
            [*args, "-e", statement], capture_output=True, text=True, check=True, timeout=30
        )
        return [line.split("\t") for line in done.stdout.splitlines()]

    # --- WordPress's own screens ---

    def install(self) -> None:
        """Install through wp-admin/install.php, as a person would."""
        answer = self.http.post(
            "/wp-admin/install.php?step=2",
            data={
                "weblog_title": "Moderation test blog",
                "user_name": ADMIN_USER,
                "admin_password": ADMIN_PASSWORD,
                "admin_password2": ADMIN_PASSWORD,
                "pw_weak": "1",
                "admin_email": "admin@example.org",
                "blog_public": "0",
                "language": "",
                "Submit": "Install WordPress",
            },
        )
        assert answer.status_code == 200, answer.text[:500]
        assert "Success!" in answer.text, answer.text[:2000]

    def log_in(self) -> None:
        """Sign in as the admin (the cookies stay in self.http)."""
        self.http.cookies.set("wordpress_test_cookie", "WP Cookie check")
        answer = self.http.post(
            "/wp-login.php",
            data={
                "log": ADMIN_USER,
                "pwd": ADMIN_PASSWORD,
                "wp-submit": "Log In",
                "testcookie": "1",
                "redirect_to": f"{self.url}/wp-admin/",
            },
        )
        assert answer.status_code == 302, answer.text[:1000]

    def admin_link(self, page: str, pattern: str) -> str:
        """Return the first link on an admin page whose href matches `pattern`."""
        text = self.http.get(page).text
        for href in re.findall(r'href="([^"]+)"', text):
            href = html.unescape(href)
            if re.search(pattern, href):
                return href if href.startswith("http") else "/wp-admin/" + href.lstrip("/")
        raise AssertionError(f"no link matching {pattern} on {page}")

    def activate(self, plugin: str) -> None:
        """Activate a plugin from the Plugins screen (its nonce-bearing link)."""
        slug = re.escape(plugin.replace("/", "%2F"))
        link = self.admin_link("/wp-admin/plugins.php", rf"action=activate&plugin={slug}&")
        answer = self.http.get(link)
        assert answer.status_code == 302, answer.text[:1000]
        assert "activate=true" in answer.headers["location"], answer.headers["location"]

    def deactivate(self, plugin: str) -> None:
        """Deactivate a plugin from the Plugins screen."""
        slug = re.escape(plugin.replace("/", "%2F"))
        link = self.admin_link("/wp-admin/plugins.php", rf"action=deactivate&plugin={slug}&")
        answer = self.http.get(link)
        assert answer.status_code == 302, answer.text[:1000]

    def post_comment(self, content: str, *, author: str, email: str, url: str = "") -> Any:
        """Post as an anonymous visitor through wp-comments-post.php, with the form's fields."""
        with httpx.Client(base_url=self.url, timeout=30.0) as visitor:
            return visitor.post(
                "/wp-comments-post.php",
                data={
                    "comment": content,
                    "author": author,
                    "email": email,
                    "url": url,
                    "submit": "Post Comment",
                    "comment_post_ID": "1",
                    "comment_parent": "0",
                },
            )

    def comment_id_of(self, answer: Any) -> int:
        """Return the new comment's id from wp-comments-post.php's redirect."""
        assert answer.status_code == 302, answer.text[:2000]
        match = re.search(r"#comment-(\d+)$", answer.headers["location"])
        assert match, answer.headers["location"]
        return int(match.group(1))

    def status(self, comment_id: int) -> str:
        """Return the comment's comment_approved (1, 0, spam, trash)."""
        return self.sql(
            f"SELECT comment_approved FROM wp_comments WHERE comment_ID = {comment_id:d}"  # noqa: S608
        )[0][0]

    def meta(self, comment_id: int, key: str) -> str | None:
        """Return one comment meta value."""
        rows = self.sql(
            f"SELECT meta_value FROM wp_commentmeta WHERE comment_id = {comment_id:d}"  # noqa: S608
            f" AND meta_key = '{key}'"
        )
        return rows[0][0] if rows else None

    def public_post(self) -> str:
        """Return the post's page as a visitor sees it."""
        return httpx.get(f"{self.url}/?p=1", timeout=30.0, follow_redirects=True).text

    def run_cron(self) -> None:
        """Run WP-Cron's due events (what a page load or a system cron would trigger)."""
        answer = self.http.get("/wp-cron.php")
        assert answer.status_code == 200

    def php(self, code: str) -> str:
        """Run PHP with WordPress loaded (as WP-CLI does) and return what it printed."""
        script = self.folder / f"run-{secrets.token_hex(4)}.php"
        script.write_text("<?php\nrequire " + repr(str(self.root / "wp-load.php")) + ";\n" + code)
        done = subprocess.run(
            ["php", str(script)], capture_output=True, text=True, timeout=60, cwd=self.root
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def link_or_copy(source: str, target: str) -> None:
    """Hard-link a file of WordPress's (fast; nothing writes to them), else copy it.

    PHP resolves symbolic links (__DIR__ would point back to /usr/share/wordpress and
    its Debian wp-config.php), not hard links. Every file the test writes (wp-config.php,
    wp-content) is a new file of the temp root, never one of these.
    """
    try:
        os.link(source, target)
    except OSError:  # another filesystem
        shutil.copy2(source, target)


def php_value(value: Any) -> str:
    """Return a PHP literal for a constant's value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
