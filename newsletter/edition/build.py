"""Building an edition: ingest the site's files, pick and rank the day, summarize, store the
items, and load a built edition back as plain records (`content_of`) for whoever sends or shows
it. Knows nothing of delivery: `newsletter.pipeline` joins the two."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.config import Settings, SummarySettings
from newsletter.content import ArticleItem, EditionContent, PostExcerpt, ThreadItem, showable
from newsletter.edition.choices import chosen_blurb, stored_choice
from newsletter.errors import BuildRace, EditionStateError, NewsletterError, NothingToSend
from newsletter.ingest import read_file
from newsletter.languages import LANGUAGES, detect_language
from newsletter.render import render_edition
from newsletter.render.shape import MAX_THREADS
from newsletter.select import day_bounds
from newsletter.select.ranking import (
    Candidate,
    EditorsChoice,
    RankedArticle,
    Ranking,
    ThreadActivity,
    rank_day,
    title_key,
)
from newsletter.store import queries
from newsletter.store.db import session_scope
from newsletter.store.models import (
    Article,
    DeliveryStatus,
    Edition,
    EditionItem,
    EditionStatus,
    ItemKind,
    Post,
    Thread,
)
from newsletter.summarize import summarize, summarize_thread

DAY_THREADS = 1000  # threads of one day read for ranking, at most
LEAD_WORDS = 60  # of an article's first paragraph, compared to find the same story twice


@dataclass(frozen=True)
class LanguageSize:
    """One language's copy as a reader with no sections chosen gets it."""

    lang: str
    size: int
    fitting: str


@dataclass(frozen=True)
class BuildResult:
    edition_date: date
    articles: int
    threads: int
    rebuilt: bool
    ranking: Ranking
    sizes: tuple[LanguageSize, ...] = ()


def ingest(
    *,
    engine: Engine,
    settings: Settings,
    paths: Sequence[Path],
    published_at: datetime | None = None,
    lang: str | None = None,
    url: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[tuple[Path, queries.StoreCounts]]:
    """Read and store files in order, each in its own transaction: a bad file stores nothing
    and stops the run, and the files before it stay stored. `warn` hears what was cleaned on
    the way in (characters a body held that cannot be shown), naming file and record."""
    results = []
    for path in paths:
        batch = read_file(path, tz=settings.timezone, published_at=published_at, lang=lang, url=url)
        for note in batch.notes:
            if warn is not None:
                warn(note)
        with session_scope(engine) as session:
            results.append((path, queries.store_batch(session=session, batch=batch)))
    return results


def build(
    *,
    engine: Engine,
    settings: Settings,
    day: date,
    choice: EditorsChoice | None = None,
) -> BuildResult:
    """Compose (or recompose, while still a draft) the edition for one local day: the day's
    articles and active threads, ranked (`newsletter.select.ranking`), summarized and stored as
    snapshots. With a base URL configured, each language's copy is rendered to report its size
    and what had to be folded to keep it under the clipping limit.

    Editors' choices stored for the day (`newsletter.edition.choices`: pins, exclusions, moves,
    chosen sentences, subjects, note) are applied; `choice` replaces the ranking's part."""
    start, end = day_bounds(day, settings.timezone)
    with session_scope(engine) as session:
        stored = stored_choice(session=session, day=day)
        articles = queries.articles_published_between(session=session, start=start, end=end)
        threads = queries.threads_active_between(
            session=session, start=start, end=end, limit=DAY_THREADS
        )
        growth = queries.comment_growth(
            session=session, thread_ids=[t.id for t in threads], day_start=start
        )
        ranking = rank_day(
            [_candidate(a) for a in articles],
            [_activity(t, growth.get(t.id), start, end) for t in threads],
            day_start=start,
            day_end=end,
            section_weights=settings.edition.section_weights,
            choice=stored.ranking if choice is None else choice,
        )
        if not ranking.articles and not ranking.threads:
            raise nothing_published(day, settings)
        edition = queries.get_edition(session=session, edition_date=day)
        rebuilt = edition is not None
        if edition is None:
            edition = Edition(edition_date=day, subject="")
            session.add(edition)
            try:
                # Waits for another process inserting the same day; fails once it committed.
                session.flush()
            except IntegrityError as exc:
                raise BuildRace(
                    f"the edition of {day.isoformat()} was built by another process meanwhile: "
                    "this one stored nothing (`newsletter build` again rebuilds it)"
                ) from exc
        elif edition.status is EditionStatus.APPROVED:
            # An editor signed off on exactly this edition: a rebuild must not change it.
            raise EditionStateError(
                f"the edition of {day.isoformat()} is approved: it is not rebuilt "
                f"(`newsletter editions withdraw {day.isoformat()}` first)"
            )
        elif edition.status is not EditionStatus.DRAFT:
            _unsend(session, edition)
        edition.items.clear()
        session.flush()  # the old items' positions must be free before new ones take them
        by_url = {a.url: a for a in articles}
        by_key = {t.key: t for t in threads}
        article_urls = {title_key(a.title): a.url for a in articles}
        chosen = [
            t
            for i, t in enumerate(ranking.threads)
            # The busiest threads, and every thread shown under an article it replies to.
            if i < MAX_THREADS or (t.reply_to and title_key(t.reply_to) in article_urls)
        ]
        items = [
            _article_item(
                by_url[r.candidate.key],
                r,
                settings.summary,
                stored.sentences.get(r.candidate.key, ()),
            )
            for r in ranking.articles
        ] + [
            _thread_item(
                by_key[t.key],
                t,
                article_urls.get(title_key(t.reply_to)) if t.reply_to else None,
            )
            for t in chosen
        ]
        for position, item in enumerate(items):
            item.position = position
        edition.items.extend(items)
        edition.subject = items[0].title
        edition.subjects = dict(stored.subjects)
        edition.note = stored.note
        content = content_of(edition, settings)
    return BuildResult(
        day,
        len(ranking.articles),
        len(chosen),
        rebuilt,
        ranking,
        _sizes(content, settings) if settings.base_url else (),
    )


def _sizes(content: EditionContent, settings: Settings) -> tuple[LanguageSize, ...]:
    sizes = []
    for lang in LANGUAGES:
        rendered = render_edition(
            content,
            lang=lang,
            site_name=settings.site_name,
            base_url=settings.require_base_url(),
            shape=settings.edition,
        )
        sizes.append(LanguageSize(lang, rendered.size, rendered.fitting()))
    return tuple(sizes)


def _candidate(article: Article) -> Candidate:
    lead = " ".join(article.body.strip().split("\n\n", 1)[0].split()[:LEAD_WORDS])
    return Candidate(
        key=article.url,
        title=article.title,
        lead=lead,
        lang=article.lang,
        published_at=article.published_at,
        tags=tuple(article.tags),
    )


def _activity(thread: Thread, growth: int | None, start: datetime, end: datetime) -> ThreadActivity:
    """Posts that day where the store has the thread's posts, else the growth of its count."""
    posts = sum(1 for p in thread.posts if start <= p.posted_at < end) if thread.posts else None
    return ThreadActivity(
        key=thread.key,
        title=thread.title,
        last_activity_at=thread.last_activity_at,
        reply_to=thread.reply_to,
        posts_today=posts,
        growth=growth,
    )


def _unsend(session: Session, edition: Edition) -> None:
    """Make an edition nobody has received a draft again, so that it can be built anew (a
    failed send must not freeze what an edition says); once one reader has it, it stays."""
    day = edition.edition_date.isoformat()
    counts = queries.delivery_counts(session=session, edition_id=edition.id)
    if counts[DeliveryStatus.SENT]:
        raise EditionStateError(
            f"the edition of {day} has been sent to {counts[DeliveryStatus.SENT]} reader(s): "
            "it is not rebuilt"
        )
    if counts[DeliveryStatus.SENDING]:
        raise EditionStateError(
            f"the edition of {day} is being sent right now: it is not rebuilt "
            f"(`newsletter status --date {day}` shows by whom)"
        )
    queries.drop_deliveries(session=session, edition_id=edition.id)
    edition.status = EditionStatus.DRAFT


def _article_item(
    article: Article, ranked: RankedArticle, blurb: SummarySettings, chosen: tuple[str, ...]
) -> EditionItem:
    """An article's snapshot; its blurb is the sentences an editor chose, where they chose any
    that are still the article's own, else the summarizer's."""
    picked = chosen_blurb(article.body, article.lang, chosen) if chosen else ()
    summary = picked or summarize(
        article.body,
        lang=article.lang,
        max_words=blurb.words,
        title=article.title,
        lead_weight=blurb.lead_weight,
    )
    return EditionItem(
        kind=ItemKind.ARTICLE,
        article_id=article.id,
        title=article.title,
        url=article.url,
        summary=list(summary),
        details={
            "lang": article.lang,
            "published_at": article.published_at.isoformat(),
            "author": article.author,
            "image_url": article.image_url,
            "tags": list(article.tags),
            "story": ranked.story,
            "pinned": ranked.pinned,
            "chosen_sentences": bool(picked),
            "score": round(ranked.score, 4),
            "signals": {k: round(v, 4) for k, v in ranked.signals.items()},
        },
    )


def _thread_item(thread: Thread, activity: ThreadActivity, reply_to_url: str | None) -> EditionItem:
    """A thread's snapshot; its extracts are made now, so the edition does not change later:
    one per reader language, quoting that language's posts when the thread has some."""
    posts_by_lang: dict[str, list[Post]] = {}
    for post in thread.posts:
        posts_by_lang.setdefault(detect_language(post.body), []).append(post)
    all_text = " ".join([thread.title, *(post.body for post in thread.posts)])
    extracts = {}
    for lang in LANGUAGES:
        own = posts_by_lang.get(lang)
        extract = summarize_thread(
            own or thread.posts, lang=lang if own else detect_language(all_text), title=thread.title
        )
        extracts[lang] = [{"author": e.author, "text": e.text} for e in extract]
    return EditionItem(
        kind=ItemKind.THREAD,
        thread_id=thread.id,
        title=thread.title,
        url=thread.url,
        summary=[],
        details={
            "comments": thread.comments,
            "last_activity_at": thread.last_activity_at.isoformat(),
            "reply_to": thread.reply_to,
            "reply_to_url": reply_to_url,
            "activity": activity.activity,
            "extracts": extracts,
        },
    )


def nothing_published(day: date, settings: Settings) -> NothingToSend:
    """What `run`, `build` and `status` say of a day without content: which day, and why."""
    return NothingToSend(
        f"nothing to send for {day.isoformat()}: no articles or discussions were published "
        f"that day (00:00 to 24:00 {settings.timezone.key}); no edition built"
    )


def missing_edition(*, session: Session, settings: Settings, day: date) -> NewsletterError:
    """Why `day` has no edition: nothing was published (exit 3, as `run` said that day), or
    it is not built yet."""
    start, end = day_bounds(day, settings.timezone)
    articles = queries.articles_published_between(session=session, start=start, end=end)
    threads = queries.threads_active_between(
        session=session, start=start, end=end, limit=MAX_THREADS
    )
    if not articles and not threads:
        return nothing_published(day, settings)
    return EditionStateError(
        f"there is no edition of {day.isoformat()} yet: {len(articles)} articles and "
        f"{len(threads)} discussions of that day wait for it; "
        f"`newsletter run --date {day.isoformat()}` builds and sends it"
    )


def require_edition(*, session: Session, day: date) -> Edition:
    edition = queries.get_edition(session=session, edition_date=day)
    if edition is None:
        raise EditionStateError(
            f"there is no edition for {day.isoformat()}: run `newsletter build --date {day}`"
        )
    return edition


def load_content(*, engine: Engine, settings: Settings, day: date) -> EditionContent:
    with session_scope(engine) as session:
        return content_of(require_edition(session=session, day=day), settings)


def content_of(edition: Edition, settings: Settings) -> EditionContent:
    """A built edition's content as plain records (item snapshots, times in the site's zone).

    Text is passed through `showable`: a snapshot taken before ingest refused unshowable
    characters must still render. A damaged snapshot (edited by hand) is an EditionStateError
    naming the edition and item, not a crash in the middle of a send."""
    articles: list[ArticleItem] = []
    threads: list[ThreadItem] = []
    for item in edition.items:
        try:
            if item.kind is ItemKind.ARTICLE:
                articles.append(_article_of(item))
            else:
                threads.append(_thread_of(item, settings))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EditionStateError(
                f"the edition of {edition.edition_date.isoformat()} is damaged (item "
                f"{item.position}, {item.title!r}: {type(exc).__name__} {exc}): build it again"
            ) from exc
    return EditionContent(
        edition.edition_date,
        tuple(articles),
        tuple(threads),
        subjects=tuple(sorted((edition.subjects or {}).items())),
        note=edition.note,
    )


def _article_of(item: EditionItem) -> ArticleItem:
    d: dict[str, Any] = item.details
    author = d.get("author")
    return ArticleItem(
        title=showable(item.title),
        url=item.url,
        summary=tuple(showable(s) for s in item.summary),
        lang=d["lang"],
        published_at=datetime.fromisoformat(d["published_at"]),
        author=showable(author) if author else None,
        image_url=d.get("image_url"),
        tags=tuple(showable(t) for t in d.get("tags", ())),
        story=d.get("story"),
    )


def _thread_of(item: EditionItem, settings: Settings) -> ThreadItem:
    d: dict[str, Any] = item.details
    reply_to = d.get("reply_to")
    return ThreadItem(
        title=showable(item.title),
        url=item.url,
        comments=int(d["comments"]),
        last_activity_at=datetime.fromisoformat(d["last_activity_at"]).astimezone(
            settings.timezone
        ),
        reply_to=showable(reply_to) if reply_to else None,
        # Editions built before extracts were made per language have one for all.
        extract=_excerpts(d.get("extract", ())),
        activity=d.get("activity"),
        reply_to_url=d.get("reply_to_url"),
        extracts=tuple((lang, _excerpts(quoted)) for lang, quoted in d.get("extracts", {}).items()),
    )


def _excerpts(stored: list[dict[str, str]]) -> tuple[PostExcerpt, ...]:
    return tuple(
        PostExcerpt(author=showable(e["author"]), text=showable(e["text"])) for e in stored
    )
