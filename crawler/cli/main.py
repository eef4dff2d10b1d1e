"""The `veille` click group, its context (config and database paths, opened on demand)
and its error handling, with the commands that need no other module of `crawler.cli`.

Only here do exceptions become messages and exit codes.
"""

from __future__ import annotations

import logging
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import click
import sqlite_utils

from crawler.cli.output import TABLE, emit, format_options
from crawler.config.model import (
    DEFAULT_CONFIG,
    DEFAULT_DB,
    SHIPPED_CONFIG,
    config_path,
    db_path,
    load_config,
)
from crawler.errors import BadInputError, ConfigError, VeilleError
from crawler.processes import pid_alive
from crawler.record.schema import (
    busy_timeout_ms,
    open_for_reading,
    refuse_read_only,
)
from crawler.wording import plural

LOGGER = logging.getLogger(__name__)

class Context:
    """The paths every command works on, resolved from options and environment once."""

    def __init__(self, config: str | None, db: str | None):
        self.config_file = config_path(config)
        self.database = db_path(db)
        self.database_checked = False

    def _checked(self) -> Path:
        """The database, checked when a command first asks for it (so that `discover`,
        which never opens it, takes any --db)."""
        if not self.database_checked:
            check_folder(self.database, DEFAULT_DB)
            check_database_file(self.database)
            self.database_checked = True
        return self.database

    @property
    def db_file(self) -> Path:
        """The database of a command that writes it: one this user cannot write is refused
        here, before a lock file beside it is tried."""
        refuse_read_only(self._checked())
        return self.database

    def read_database(self) -> sqlite_utils.Database:
        """The database opened for a command that only reads it: read-only, creating and
        migrating nothing, when this user cannot write it (a copy published read-only)."""
        return open_for_reading(self._checked())

    def load(self):
        return load_config(self.config_file)  # a ConfigError ends the command: exit 2


def check_folder(path: Path, default: Path) -> None:
    """Refuse a file in a folder that does not exist (`--db /nonexistent/x.db`: a typo is
    not a reason to create folders); only the default data/ folder is made when missing."""
    if path != default and not path.parent.is_dir():
        raise BadInputError(f"{path}: folder {path.parent} does not exist")


def check_database_file(path: Path) -> None:
    """Refuse a --db that is not an SQLite database before SQLite or a lock beside it
    touches it: a directory, a device (/dev/zero would read as an endless empty database),
    a file of other bytes. A missing or empty file is a new database."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise BadInputError(f"{path}: is a directory, not a database")
        if not stat.S_ISREG(mode):
            raise BadInputError(f"{path}: is not a regular file, so not a database")
        with open(path, "rb") as fh:
            header = fh.read(100)  # SQLite's file header
    except FileNotFoundError:
        return
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if header and (len(header) < 100 or not header.startswith(b"SQLite format 3\x00")):
        raise BadInputError(f"{path}: file is not a database (no SQLite header)")


class Group(click.Group):
    """The `veille` group, and the one place where errors become messages and exit codes:
    Veille's own (`crawler.errors`: their message and `exit_code`), SQLite's verdict that
    the database file is not one or is corrupt (a truncated copy), and a write lock held
    too long; each a line naming the file, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except VeilleError as exc:
            raise _one_line(exc) from exc
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or ctx.obj is None:
                raise
            raise _one_line(VeilleError(locked_message(ctx.obj.database))) from exc
        except sqlite3.DatabaseError as exc:
            # Its subclasses (locked, read-only, constraint...) are not about the file's bytes.
            if type(exc) is not sqlite3.DatabaseError or ctx.obj is None:
                raise
            raise _one_line(BadInputError(f"{ctx.obj.database}: {exc}")) from exc


def _one_line(exc: VeilleError) -> click.ClickException:
    """What click prints ("Error: " and the message) and the exit status of `exc`."""
    error = click.ClickException(str(exc))
    error.exit_code = exc.exit_code
    return error


def locked_message(path: Path) -> str:
    """One line for a write lock another process held past the busy timeout, naming the
    crawls that are running, when the database can still be read."""
    holders = ""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            running = conn.execute("SELECT source_id, pid FROM crawl_runs "
                                   "WHERE status = 'running' ORDER BY id").fetchall()
        conn.close()
        alive = [f"{source} (pid {pid})" for source, pid in running if pid and pid_alive(pid)]
        if alive:
            holders = f"; crawls running: {', '.join(alive)}"
    except sqlite3.Error:
        pass
    return (f"{path}: database is locked: another process has held its write lock for "
            f"more than {busy_timeout_ms() / 1000:g} s{holders}")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH", envvar="VEILLE_CONFIG",
              help="Configuration file [default: data/veille.toml, or $VEILLE_CONFIG].")
@click.option("--db", "db", metavar="PATH", envvar="VEILLE_DB",
              help="SQLite database [default: data/veille.db, or $VEILLE_DB].")
@click.version_option(package_name="veille")
@click.pass_context
def cli(ctx: click.Context, config: str | None, db: str | None) -> None:
    """Veille: follow news sites' topic pages and feeds into one SQLite record.

    Start with `veille demo`, which crawls a bundled demo site.
    """
    ctx.obj = Context(config, db)


@cli.command()
@click.pass_obj
def init(obj: Context) -> None:
    """Write a starter configuration if there is none, create the database (or bring its
    schema up to date) and register the configured sources.

    The starter is Veille's example: a few newsrooms' topic pages and feeds and the
    tracked conflicts, each key commented. An existing configuration is never
    overwritten. Add sources to it with `veille add URL`.

    Example: veille init
    """
    from crawler.record.store import Store

    written = write_starter(obj.config_file)
    click.echo(f"{obj.config_file}: " + (
        "starter configuration written; edit it, or add a source with `veille add URL`"
        if written else "kept as it is (an existing configuration is never overwritten)"))
    config = obj.load()
    with Store.open_for(config, obj.db_file) as store:
        tables = store.db.table_names()
    click.echo(f"{obj.db_file}: schema ready ({plural(len(tables), 'table')}), "
               f"{plural(len(config.sources), 'source')} from {obj.config_file}")


def write_starter(path: Path) -> bool:
    """Copy the shipped example configuration to `path` unless a file is there (checked
    and created in one step: never overwritten, even by two `init`s at once)."""
    check_folder(path, DEFAULT_CONFIG)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as out:
            out.write(SHIPPED_CONFIG.read_bytes())
    except FileExistsError:
        return False
    return True


@cli.command()
@click.argument("url")
@format_options
@click.pass_obj
def discover(obj: Context, url: str, fmt: str) -> None:
    """List the RSS/Atom feeds a page advertises (<link rel="alternate">).

    Example: veille discover https://www.lorientlejour.com/
    """
    from crawler.config.model import CrawlSettings
    from crawler.page.discover import discover as find

    try:
        user_agent = obj.load().crawl.user_agent
    except ConfigError:
        user_agent = CrawlSettings().user_agent
    feeds = find(url, user_agent)
    if not feeds and fmt == TABLE:
        click.echo(f"{url}: advertises no feed")
        return
    emit([{"kind": f.kind, "url": f.url, "title": f.title} for f in feeds], fmt,
         [("kind", "kind"), ("url", "feed"), ("title", "title")])


@cli.command()
@click.option("--output", "-o", default="demo-output", show_default=True, metavar="DIR",
              help="Folder for the demo's configuration, database and feeds: a new or "
                   "empty folder, or one an earlier demo made (emptied first).")
@click.option("--serve", "keep_serving", is_flag=True,
              help="Keep the demo site (and its webhook receiver) up after the demo, until "
                   "Ctrl-C, so that its configuration can be crawled again.")
def demo(output: str, keep_serving: bool) -> None:
    """Serve the bundled demo news site on 127.0.0.1, crawl it and deliver its alerts.

    Crawls it three times: a first crawl, an idle re-crawl (nothing new: no article is
    downloaded again, no alert), and a crawl of the site a few hours later (one new
    article, one updated). Each crawl queues alerts for the demo subscriptions and sends
    them (`crawl --send`) to a local webhook receiver and to Atom files. Then prints what
    was stored and what each desk received.

    Example: veille demo --output /tmp/veille-demo --serve
    """
    import os
    import secrets

    from crawler.demo import HookReceiver, demo_site, prepare_output, render_demo_config
    from crawler.report import print_demo_report

    out = prepare_output(Path(output))
    db_file = out / "veille.db"
    secret = secrets.token_hex(16)
    env = {**os.environ, "VEILLE_DEMO_WEBHOOK_SECRET": secret}
    with demo_site() as site, HookReceiver(secret) as hooks:
        config_file = render_demo_config(site.origin, out / "veille.toml", hooks.origin)
        click.echo(f"Demo site serving data/demo/ at {site.origin}; webhook receiver at "
                   f"{hooks.origin}; config {config_file}\n")
        steps = [
            ("1. First crawl of the demo site", 1),
            ("2. Crawl again, nothing changed on the site", 1),
            ("3. A few hours later: one article updated, one new", 2),
        ]
        requests = []
        for title, edition in steps:
            site.edition = edition
            site.reset_hits()
            click.secho(title, bold=True)
            result = subprocess.run(
                [sys.executable, "-m", "crawler", "--config", str(config_file),
                 "--db", str(db_file), "crawl", "--no-progress", "--send"],
                check=False, env=env,
            )
            requests.append(sum(site.hits.values()))
            click.echo(f"   ({plural(requests[-1], 'request')} reached the site, exit status "
                       f"{result.returncode})\n")
        print_demo_report(db_file, requests, dict(hooks.deliveries), hooks.bad_signatures)
        click.echo(f"\nBrowse it in Datasette: veille --db {db_file} serve   (then open "
                   "http://127.0.0.1:8001/veille)")
        if keep_serving:
            click.echo(f"\nThe demo site stays up at {site.origin}: crawl it again with\n"
                       f"  VEILLE_DEMO_WEBHOOK_SECRET={secret} veille --config {config_file} "
                       f"--db {db_file} crawl --send\nCtrl-C stops it.", nl=True)
            wait_for_interrupt()


def wait_for_interrupt() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM."""
    import signal
    import threading

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@cli.command()
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
@click.option("--metrics", metavar="HOST:PORT",
              help="Serve Prometheus metrics at http://HOST:PORT/metrics and a health check "
                   "at /healthz (503 when no poll started or ended for twice the longest "
                   "interval).")
@click.pass_obj
def run(obj: Context, log_level: str, metrics: str | None) -> None:
    """Run the daemon: poll every source on its schedule and send alerts, until stopped.

    Each poll is a `veille crawl --source ID` process with a time limit. SIGTERM or
    SIGINT stops it cleanly; SIGHUP (or editing the config file) reloads the config.
    The job store is kept beside the database (`<db>-scheduler.db`).

    Example: veille --config data/veille.toml --db data/veille.db run --metrics 127.0.0.1:9464
    """
    from scheduler.daemon import Daemon
    from scheduler.monitor import MonitorServer

    logging.basicConfig(level=log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level != "DEBUG":
        # One line per poll is ours to write; APScheduler's per-job lines are debug detail.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # bound first: an address in use or a bad one ends the command at once (exit 2, one line)
    monitor = MonitorServer(metrics) if metrics else None
    try:
        daemon = Daemon(obj.config_file, obj.db_file, monitor=monitor)  # a ConfigError: exit 2
    except BaseException:
        if monitor is not None:
            monitor.stop()
        raise
    sys.exit(daemon.run())
