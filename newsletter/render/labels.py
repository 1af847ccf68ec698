"""Interface wording per reader language, so templates never branch on the language themselves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from babel import Locale
from babel.numbers import format_decimal

from newsletter.errors import NewsletterError
from newsletter.languages import LANGUAGES

LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "daily_digest": "Daily digest",
        "top_stories": "Top stories",
        "also_today": "Also today",
        "also": "Also:",
        "other_language": "Headlines in Russian",
        "today": "+{n} today",
        "read_more": "Read more",
        "by_author": "By {author}",
        "most_discussed": "Most discussed",
        "reply_to": "Reply to «{title}»",
        "other_news": "More news",
        "why_received": (
            "You are receiving this email because you subscribed to the {site} daily digest."
        ),
        "unsubscribe": "Unsubscribe",
        "preferences": "Preferences",
        "view_in_browser": "View in browser",
    },
    "ru": {
        "daily_digest": "Ежедневный дайджест",
        "top_stories": "Главное",
        "also_today": "Ещё сегодня",
        "also": "Также:",
        "other_language": "Заголовки на английском",
        "today": "+{n} за день",
        "read_more": "Читать полностью",
        "by_author": "Автор: {author}",
        "most_discussed": "Самое обсуждаемое",
        "reply_to": "Ответ на «{title}»",
        "other_news": "Другие новости",
        "why_received": (
            "Вы получили это письмо, потому что подписались на ежедневный дайджест {site}."
        ),
        "unsubscribe": "Отписаться",
        "preferences": "Настройки рассылки",
        "view_in_browser": "Открыть в браузере",
    },
}

# The site's tags name the sections; a tag missing here is shown as written, capitalised.
SECTIONS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "air defence": "Air defence",
        "armour": "Armour",
        "aviation": "Aviation",
        "exports": "Exports",
        "industry": "Industry",
        "navy": "Navy",
        "uav": "Drones",
    },
    "ru": {
        "air defence": "ПВО",
        "armour": "Бронетехника",
        "aviation": "Авиация",
        "exports": "Экспорт",
        "industry": "Промышленность",
        "navy": "Флот",
        "uav": "Беспилотники",
    },
}

# Keyed by CLDR plural category: Russian needs three forms ("1 комментарий, 2 комментария,
# 5 комментариев"), which a singular/plural pair cannot express.
COMMENT_COUNTS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {"one": "{n} comment", "other": "{n} comments"},
    "ru": {
        "one": "{n} комментарий",
        "few": "{n} комментария",
        "many": "{n} комментариев",
        "other": "{n} комментария",
    },
}

# The subject's tail and the link to the headlines left to the archive page.
MORE_STORIES: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {"one": "and {n} more story", "other": "and {n} more stories"},
    "ru": {
        "one": "и ещё {n} новость",
        "few": "и ещё {n} новости",
        "many": "и ещё {n} новостей",
        "other": "и ещё {n} новости",
    },
}
MORE_ON_SITE: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {"one": "{n} more story on the site", "other": "{n} more stories on the site"},
    "ru": {
        "one": "Ещё {n} новость на сайте",
        "few": "Ещё {n} новости на сайте",
        "many": "Ещё {n} новостей на сайте",
        "other": "Ещё {n} новости на сайте",
    },
}


def labels_for(lang: str) -> Mapping[str, str]:
    """The catalogue for `lang`; an unknown language is refused rather than silently English."""
    try:
        return LABELS[lang]
    except KeyError:
        raise NewsletterError(
            f"no labels for language {lang!r}; supported: {', '.join(LANGUAGES)}"
        ) from None


def section_name(tag: str, *, lang: str) -> str:
    return SECTIONS[lang].get(tag.casefold(), tag[:1].upper() + tag[1:])


def plural(catalogue: Mapping[str, Mapping[str, str]], n: int, *, lang: str) -> str:
    """`n` things in `lang`, with the plural form that language's grammar asks for (CLDR's
    rules through Babel) and the digit grouping it writes (`8,550` / `8 550`)."""
    forms = catalogue[lang]
    form = Locale.parse(lang).plural_form(n)
    return forms.get(form, forms["other"]).format(n=format_decimal(n, locale=lang))


def comment_count(n: int, *, lang: str) -> str:
    return plural(COMMENT_COUNTS, n, lang=lang)
