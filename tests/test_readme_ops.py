"""The README's production section, run as written: its secrets file and crontab line under cron's
bare environment against a real SMTP server, its systemd units checked by systemd itself and
against the CLI's exit codes, its SQLite backup command. Each is read from README.md, so the
README stays true. Only the folders move (/srv, /etc, /var under a temporary folder)."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from newsletter.config import DEFAULT_TIMEZONE, load_settings
from newsletter.delivery.smtp.sink import SavingSmtpServer
from newsletter.errors import EXIT_ERROR, EXIT_LEFT_TO_RETRY, EXIT_NOTHING_TO_SEND, ConfigError
from newsletter.select import last_complete_day
from newsletter.store.db import make_engine, session_scope
from newsletter.store.migrate import ensure_current, upgrade
from newsletter.store.models import Subscriber, Suppression
from subscribers import add_subscriber, forget
from tests.conftest import articles_of, received

README = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
FOLDERS = ("/srv/newsletter", "/etc/newsletter", "/var/log/newsletter", "/var/lib/newsletter")
# What cron gives a job: no PATH of the login shell, no variables of the user's session.
CRON_ENV = {"SHELL": "/bin/sh", "PATH": "/usr/bin:/bin", "LOGNAME": "newsletter"}
AWKWARD_PASSWORD = 'p$a "s\\w#rd x'  # what the one quoting rule must carry as is


def _section(title: str) -> str:
    """From the heading `title` to the next heading (a `#` line outside code blocks)."""
    lines = README.splitlines(keepends=True)
    start = lines.index(f"{title}\n")
    fenced = False
    for end in range(start + 1, len(lines)):
        fenced ^= lines[end].startswith("```")
        if not fenced and lines[end].startswith("#"):
            break
    else:
        end = len(lines)
    return "".join(lines[start:end])


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)


def _moved(text: str, root: Path) -> str:
    """The README's paths, moved under `root`."""
    for folder in (*FOLDERS, "/var/backups/newsletter"):
        text = text.replace(folder, f"{root}{folder}")
    return text


def _crontab() -> tuple[dict[str, str], list[str], str]:
    """The README's crontab: its variables, the run line's five time fields and command."""
    (block,) = _blocks(_section("### Every morning, from cron"), "cron")
    variables, jobs = {}, []
    for line in block.splitlines():
        if match := re.fullmatch(r"([A-Z_]+)=(\S*)", line):
            variables[match[1]] = match[2]
        elif line.strip() and not line.startswith("#"):
            jobs.append(line.split(None, 5))
    (job,) = jobs
    return variables, job[:5], job[5]


def _secrets_file() -> str:
    (block,) = _blocks(_section("### The secrets file"), "sh")
    return block


def _filled_secrets_file(key: str) -> str:
    """The README's file with its placeholders replaced, as the README says to."""
    text = _secrets_file()
    values = {"NEWSLETTER_SECRET_KEY": key, "NEWSLETTER_SMTP_PASSWORD": AWKWARD_PASSWORD}
    text = re.sub(r"^(\w+)='<[^']*>'$", lambda m: f"{m[1]}='{values[m[1]]}'", text, flags=re.M)
    assert "<" not in text, text
    return text


class Server:
    """The README's layout under tmp_path, with this checkout's installed `newsletter`."""

    def __init__(self, root: Path, smtp: SavingSmtpServer) -> None:
        self.root = root
        self.home = root / "srv" / "newsletter"
        for folder in FOLDERS:
            (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
        installed = Path(sys.prefix) / "bin" / "newsletter"
        assert installed.is_file(), f"the project is not installed in {sys.prefix}"
        (self.home / ".venv").symlink_to(sys.prefix, target_is_directory=True)
        self.etc = root / "etc" / "newsletter"
        self.log = root / "var" / "log" / "newsletter" / "run.log"
        self.database = root / "var" / "lib" / "newsletter" / "newsletter.sqlite3"
        self.config = self.etc / "newsletter.toml"
        self.write_config(smtp.port)
        (self.etc / "secrets.env").write_text(
            _filled_secrets_file(secrets.token_urlsafe(32)), "utf-8"
        )

    def write_config(self, port: int) -> None:
        self.config.write_text(
            f'database_url = "sqlite:///{self.database}"\n'
            'from = "VPK News <digest@vpk-news.example>"\n'
            'base_url = "https://vpk-news.example/newsletter"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\n'
            "[delivery]\nmax_attempts = 2\nbackoff_seconds = 0.05\n",
            "utf-8",
        )

    def newsletter(self, *args: str | Path) -> None:
        """An operator's command (none of these needs the secrets)."""
        done = subprocess.run(
            [self.home / ".venv" / "bin" / "newsletter", "--config", self.config, *args],
            env=CRON_ENV,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def cron(self, command: str, variables: dict[str, str]) -> str:
        """Run a crontab command as cron does; returns what cron would mail."""
        env = CRON_ENV | {"HOME": str(self.home)} | variables
        done = subprocess.run(
            ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "/bin/sh", "-c", command],
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=180,
            check=False,
        )
        return done.stdout


def test_the_crontab_runs_in_the_morning_in_the_sites_zone() -> None:
    variables, when, command = _crontab()
    assert variables["CRON_TZ"] == "Europe/Moscow" == DEFAULT_TIMEZONE.key
    assert variables["MAILTO"]
    minute, hour, *every = when
    assert (int(hour), int(minute), every) == (6, 30, ["*", "*", "*"])
    assert "%" not in command, "cron turns % into a line break"
    assert " run" in command and "--date" not in command
    assert "30 3 * * *" in _section("### Every morning, from cron")  # Debian's cron: UTC hours
    assert datetime(2024, 12, 24, 6, 30, tzinfo=ZoneInfo("Europe/Moscow")).utcoffset() == (
        timedelta(hours=3)
    )


def test_the_readmes_crontab_line_and_secrets_file_under_crons_environment(
    tmp_path: Path, smtp_server: SavingSmtpServer
) -> None:
    variables, _, command = _crontab()
    server = Server(tmp_path, smtp_server)
    job = _moved(command, tmp_path)
    for path in re.findall(r"(?<![\w.~])/[\w/.-]+", job):
        assert path.startswith((str(tmp_path), "/bin/", "/usr/bin/")), path
    server.newsletter("db", "upgrade")
    server.newsletter("subscribers", "add", "reader@example.org")

    # A day with nothing: cron mails the one line, which names the day and why.
    before = last_complete_day(now=datetime.now(UTC), tz=DEFAULT_TIMEZONE)
    mailed = server.cron(job, variables)
    after = last_complete_day(now=datetime.now(UTC), tz=DEFAULT_TIMEZONE)
    nothing = re.fullmatch(
        r"Error: nothing to send for (\S+): no articles or discussions were published that day "
        r"\(00:00 to 24:00 Europe/Moscow\); no edition built\n",
        mailed,
    )
    assert nothing is not None, mailed
    assert nothing[1] in {str(before), str(after)}
    assert mailed in server.log.read_text("utf-8")

    # The day before and the day itself in Moscow: only the day before goes, and cron mails
    # nothing, since nothing went wrong.
    days = [before - timedelta(days=1), before, before + timedelta(days=1)]
    server.newsletter("ingest", articles_of(tmp_path / "articles.jsonl", *days))
    before = last_complete_day(now=datetime.now(UTC), tz=DEFAULT_TIMEZONE)
    mailed = server.cron(job, variables)
    after = last_complete_day(now=datetime.now(UTC), tz=DEFAULT_TIMEZONE)
    assert mailed == ""
    (message,) = received(smtp_server)
    assert message["To"].addresses[0].addr_spec == "reader@example.org"
    text = message.get_body(preferencelist=("plain",)).get_content()
    (sent,) = [day for day in days if f"Article of {day}" in text]
    assert sent in {before, after}
    assert f"Edition {sent}" in server.log.read_text("utf-8")

    # The relay is down for someone who joined since: cron mails the error line.
    server.newsletter("subscribers", "add", "late@example.org")
    server.write_config(port=9)
    mailed = server.cron(job, variables)
    *retries, last = mailed.splitlines()
    assert last.startswith("Error: "), mailed
    assert all(line.startswith("Warning: ") for line in retries), mailed
    assert last in server.log.read_text("utf-8")


def test_the_secrets_file_reads_the_same_in_sh_as_systemd_reads_it(tmp_path: Path) -> None:
    secrets_file = _secrets_file()
    assignments = [
        line for line in secrets_file.splitlines() if line.strip() and not line.startswith("#")
    ]
    # systemd.exec(5): in single quotes every character but ' is kept as is, as in sh; no
    # `export`, which systemd would not read.
    for line in assignments:
        assert re.fullmatch(r"NEWSLETTER_[A-Z_]+='[^']*'", line), line
    filled = tmp_path / "secrets.env"
    key = secrets.token_urlsafe(32)
    filled.write_text(_filled_secrets_file(key), "utf-8")
    shown = subprocess.run(
        [
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            "/bin/sh",
            "-c",
            f"set -a && . {filled} && set +a && "
            "/usr/bin/env | grep -E '^NEWSLETTER_(SECRET_KEY|SMTP_PASSWORD)=' | sort",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown == (f"NEWSLETTER_SECRET_KEY={key}\nNEWSLETTER_SMTP_PASSWORD={AWKWARD_PASSWORD}\n")


def test_the_readmes_placeholder_key_is_refused() -> None:
    (line,) = [ln for ln in _secrets_file().splitlines() if ln.startswith("NEWSLETTER_SECRET_KEY=")]
    placeholder = line.split("=", 1)[1].strip("'")
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET_KEY"):
        load_settings(environ={"NEWSLETTER_SECRET_KEY": placeholder})


def _unit(text: str, key: str) -> list[str]:
    return re.findall(rf"^{key}=(.*)$", text, flags=re.MULTILINE)


def _units() -> dict[str, str]:
    service, timer = _blocks(_section("### Or with systemd"), "ini")
    (serve,) = _blocks(_section("### The web pages"), "ini")
    return {"newsletter.service": service, "newsletter.timer": timer, "serve.service": serve}


def _exit_codes() -> dict[int, str]:
    table = _section("### Exit codes")
    return {int(n): text for n, text in re.findall(r"^\| (\d) \| (.*) \|$", table, re.MULTILINE)}


def test_the_systemd_units_agree_with_the_cli_and_the_crontab() -> None:
    units = _units()
    service = units["newsletter.service"]
    # Only "nothing to send" may count as success; errors and recipients left must fail.
    codes = {int(code) for value in _unit(service, "SuccessExitStatus") for code in value.split()}
    assert codes == {EXIT_NOTHING_TO_SEND}
    table = _exit_codes()
    assert set(table) == {0, 1, 2, 3, 4, 5}
    assert table[EXIT_NOTHING_TO_SEND].startswith("nothing to send")
    assert table[EXIT_ERROR].startswith("an error")
    assert table[EXIT_LEFT_TO_RETRY].startswith("some recipients are left")
    # The unit's comment and the text around it say the skip out loud.
    assert "is in\n# the journal" in service
    (exec_start,) = _unit(service, "ExecStart")
    assert exec_start.endswith(" run") and "--date" not in exec_start
    assert _unit(units["newsletter.timer"], "OnCalendar") == ["*-*-* 06:30:00 Europe/Moscow"]
    # One secrets file for everything.
    _, _, command = _crontab()
    for unit in ("newsletter.service", "serve.service"):
        assert _unit(units[unit], "EnvironmentFile") == ["/etc/newsletter/secrets.env"]
    assert ". /etc/newsletter/secrets.env" in command
    assert _secrets_file().startswith("# /etc/newsletter/secrets.env")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_reads_the_readmes_units(tmp_path: Path) -> None:
    calendar = subprocess.run(
        ["systemd-analyze", "calendar", "*-*-* 06:30:00 Europe/Moscow"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Normalized form: *-*-* 06:30:00 Europe/Moscow" in calendar
    home = tmp_path / "srv" / "newsletter"
    home.mkdir(parents=True)
    (home / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    names = {"serve.service": "newsletter-serve.service"}
    for name, unit in _units().items():
        (tmp_path / names.get(name, name)).write_text(_moved(unit, tmp_path), "utf-8")
    done = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            *(str(tmp_path / n) for n in ("newsletter.service", "newsletter.timer")),
            str(tmp_path / "newsletter-serve.service"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 shell is not installed")
def test_the_readmes_sqlite_backup_command(tmp_path: Path) -> None:
    (command,) = [
        block
        for block in _blocks(_section("## Backup and restore"), "sh")
        if block.startswith("sqlite3 ")
    ]
    database = tmp_path / "var" / "lib" / "newsletter" / "newsletter.sqlite3"
    database.parent.mkdir(parents=True)
    (tmp_path / "var" / "backups" / "newsletter").mkdir(parents=True)
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    with session_scope(engine) as session:
        add_subscriber(session=session, email="reader@example.org", name=None, lang="en")
    subprocess.run(
        ["env", "-i", "PATH=/usr/bin:/bin", "/bin/sh", "-c", _moved(command, tmp_path)], check=True
    )
    engine.dispose()
    (backup,) = (tmp_path / "var" / "backups" / "newsletter").glob("newsletter-*.sqlite3")
    assert re.fullmatch(r"newsletter-[0-9]{4}-[0-9]{2}-[0-9]{2}\.sqlite3", backup.name)
    restored = make_engine(f"sqlite:///{backup}")
    ensure_current(restored)
    with session_scope(restored) as session:
        assert session.scalars(select(Subscriber.email)).all() == ["reader@example.org"]
    restored.dispose()


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables a restore must keep as they were, ids and link keys included."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: sorted(tuple(row) for row in connection.execute(select(table)))
                for name, table in (
                    ("subscribers", Subscriber.__table__),
                    ("suppressions", Suppression.__table__),
                )
            }
    finally:
        engine.dispose()


def test_the_readmes_postgresql_backup_and_restore(pg_url: str, tmp_path: Path) -> None:
    """pg_dump and pg_restore as the README writes them, the database and role names aside."""
    section = _section("## Backup and restore")
    (dump,) = [block for block in _blocks(section, "sh") if block.startswith("pg_dump ")]
    prose = " ".join(section.split())
    (make_db,) = re.findall(r"`(createdb [^`]*)`", prose)
    (restore,) = re.findall(r"`(pg_restore [^`]*)`", prose)
    assert make_db == "createdb -O newsletter newsletter"

    engine = make_engine(pg_url)
    upgrade(engine)
    with session_scope(engine) as session:
        for email in ("reader@example.org", "gone@example.org", "other@example.org"):
            add_subscriber(session=session, email=email, name=None, lang="en")
    with session_scope(engine) as session:
        forget(session=session, email="gone@example.org")
    engine.dispose()
    kept = _rows(pg_url)
    assert len(kept["subscribers"]) == 2 and len(kept["suppressions"]) == 1

    source, target = (
        make_url(pg_url),
        make_url(pg_url).set(database=f"{make_url(pg_url).database}_r"),
    )
    libpq = {
        url.database: url.set(drivername="postgresql").render_as_string(hide_password=False)
        for url in (source, target)
    }
    role = f"{source.database}_role"
    (tmp_path / "var" / "backups" / "newsletter").mkdir(parents=True)
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}"'))
        connection.execute(text(f'CREATE DATABASE "{target.database}" OWNER "{role}"'))
    try:
        dump_command = _moved(dump, tmp_path).replace(
            " newsletter\n", f" '{libpq[source.database]}'\n"
        )
        subprocess.run(["/bin/sh", "-c", dump_command], check=True, capture_output=True)
        (dumped,) = (tmp_path / "var" / "backups" / "newsletter").glob("newsletter-*.dump")
        restore_command = (
            restore.replace("--role=newsletter", f"--role={role}")
            .replace("--dbname=newsletter", f"--dbname='{libpq[target.database]}'")
            .replace("FILE.dump", str(dumped))
        )
        subprocess.run(["/bin/sh", "-c", restore_command], check=True, capture_output=True)
        restored = target.render_as_string(hide_password=False)
        ensure_current(make_engine(restored))
        assert _rows(restored) == kept
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
