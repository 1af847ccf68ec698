"""Stop words for English and Russian: function words plus news-reporting verbs.

They carry no topic, so counting them would make every sentence look central. Reporting verbs
("said", "заявил") are here because nearly every news sentence has one. Words are lower-case,
with "ё" written as "е" (the form `terms.content_terms` looks up).
"""

from __future__ import annotations

_ENGLISH_WORDS = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    may might must shall us per via yet upon among within without whether however
    one two three many much well still even ever since ago
    said says say saying told tells according added adds mr mrs ms dr
    year years week month today yesterday monday tuesday wednesday thursday friday saturday sunday
"""

_RUSSIAN_WORDS = """
    а без более бы был была были было быть в вам вас весь во вот все всего всех вы где да даже
    для до его ее ей ему если есть еще же за здесь и из или им их к как какой когда кто ли либо
    между меня мне много может можно мы на над надо наш не него нее нет ни них но ну о об однако
    он она они оно от очень по под после при про раз с свой себя со так также такой там те тем
    то того тоже той только том тот ту ты у уже хотя чего чей чем что чтобы чье эта эти это этот
    этого этой этом этих я нам сам сама сами само свою своей своих
    который которая которое которые которого которой котором которых
    будет будут было бывает стал стала стали является являются может могут
    один одна одно два две три год года году лет
    заявил заявила заявили сказал сказала сказали сообщил сообщила сообщили отметил отметила
    отметили подчеркнул подчеркнула добавил добавила пояснил пояснила сообщает сообщается
    словам кроме
"""

STOP_WORDS: frozenset[str] = frozenset(_ENGLISH_WORDS.split()) | frozenset(_RUSSIAN_WORDS.split())
