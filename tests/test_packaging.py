"""The installed wheel carries what the source tree keeps outside the package: the templates
(force-included from `templates/`), the migrations and the sample content."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]

_PROBE = """
import sys
from datetime import date, datetime, timezone
from pathlib import Path
import newsletter
from newsletter.content import ArticleItem, EditionContent
from newsletter.render import render_edition, templates
from newsletter.store.db import make_engine
from newsletter.store.migrate import ensure_current, upgrade

assert Path(newsletter.__file__).is_relative_to(sys.argv[1]), newsletter.__file__
assert Path(str(templates.templates_dir())).is_relative_to(sys.argv[1]), templates.templates_dir()
item = ArticleItem("Title", "https://x.example/a", ("One sentence.",), "ru",
                   datetime(2024, 12, 23, tzinfo=timezone.utc))
html = render_edition(EditionContent(date(2024, 12, 23), (item,)), lang="ru",
                      site_name="VPK News", base_url="https://x.example").html
assert "23 декабря 2024" in html and "One sentence." in html
engine = make_engine(f"sqlite:///{sys.argv[2]}")
upgrade(engine)
ensure_current(engine)
print("ok")
"""


def test_the_wheel_finds_templates_and_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path, ROOT],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("newsletter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "newsletter/templates/edition.mjml.j2" in names
    assert "newsletter/store/migrations/versions/0001_initial_schema.py" in names
    assert "newsletter/sample_content/articles.jsonl" in names
    assert "newsletter/web/templates/subscribe.html.j2" in names
    assert "newsletter/store/migrations/versions/0003_subscriber_history.py" in names
    assert any(n.startswith("subscribers/") for n in names)
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    # The wheel's copy comes first on the path, ahead of this checkout's editable install.
    env = {**os.environ, "PYTHONPATH": str(installed)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(installed), str(tmp_path / "db.sqlite3")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
