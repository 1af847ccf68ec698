"""A discussion thread's extract: the most representative posts' best sentences, with authors.

Representative means central to the whole discussion: every post's sentences are rated together
(the default centroid rating, without its lead prior, so the opening post has no head start), a
post is worth its best sentence, and the best few posts are quoted in thread order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from newsletter.content import PostExcerpt
from newsletter.summarize.centroid import CentroidSummarizer
from newsletter.summarize.text import clean_text, is_dangling, split_sentences

_THREAD_RATER = CentroidSummarizer(lead_weight=0.0)
# A reply opening "But..." answers a post the reader does not see: its rating is cut to this
# share, so a self-contained sentence rated about half as high is quoted instead.
_DANGLING_SHARE = 0.45


class PostLike(Protocol):
    """What the extract needs of a post: the stored `Post` and `PostRecord` both fit."""

    @property
    def author(self) -> str: ...

    @property
    def body(self) -> str: ...


def summarize_thread(
    posts: Sequence[PostLike],
    *,
    lang: str,
    title: str | None = None,
    max_posts: int = 3,
    sentences_per_post: int = 2,
    max_chars: int = 240,
) -> tuple[PostExcerpt, ...]:
    """Up to `max_posts` excerpts in thread order, each of whole sentences of one post.

    An excerpt holds that post's best `sentences_per_post` sentences (in order) and is at most
    `max_chars` long: sentences are dropped from its end to fit, never cut, and a post whose best
    sentence alone is longer is passed over. Posts with no usable sentence count for nothing.
    """
    if max_posts < 1:
        return ()
    per_post = [
        [s for s in split_sentences(clean_text(post.body), lang) if _THREAD_RATER.is_candidate(s)]
        for post in posts
    ]
    pool = [sentence for sentences in per_post for sentence in sentences]
    if not pool:
        return ()
    ratings = [
        # A reply opening "But..." answers a post the reader does not see: it yields.
        rating * _DANGLING_SHARE if is_dangling(sentence) else rating
        for sentence, rating in zip(
            pool, _THREAD_RATER.rate(pool, title=clean_text(title) if title else None), strict=True
        )
    ]
    excerpts: dict[int, PostExcerpt] = {}
    start = 0
    ranked: list[tuple[float, int]] = []
    post_ratings: list[list[float]] = []
    for index, sentences in enumerate(per_post):
        own = ratings[start : start + len(sentences)]
        start += len(sentences)
        post_ratings.append(own)
        if own:
            ranked.append((-max(own), index))
    for _, index in sorted(ranked):
        if len(excerpts) == max_posts:
            break
        text = _excerpt(per_post[index], post_ratings[index], sentences_per_post, max_chars)
        if text:
            excerpts[index] = PostExcerpt(author=posts[index].author, text=text)
    return tuple(excerpts[index] for index in sorted(excerpts))


def _excerpt(sentences: list[str], ratings: list[float], count: int, max_chars: int) -> str:
    """The post's best sentences in order; if together too long, its best one that fits."""
    picked = _THREAD_RATER.choose(sentences, ratings, count)
    text = " ".join(sentences[i] for i in picked)
    if len(text) <= max_chars:
        return text
    fitting = [i for i in picked if len(sentences[i]) <= max_chars]
    return sentences[max(fitting, key=lambda i: (ratings[i], -i))] if fitting else ""
