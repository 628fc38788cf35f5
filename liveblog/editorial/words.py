"""Words as search terms: the same steps for an entry's text and for a reader's query.

1. Case folded (``casefold``: "KYÏV" and "Straße" become "kyïv" and "strasse").
2. Accents dropped where they are accents: the combining marks of Latin, Greek, Arabic and
   Hebrew letters (NFKD, marks dropped, NFC), so "résumé" is "resume", "Kyïv" is "kyiv" and
   Arabic harakat and hamza seats fold away. Cyrillic keeps its letters ("й" and "ї" are
   letters of their own), but "ё" is written without its dots by most; other scripts keep
   their marks, which are vowels there (Devanagari, Thai).
3. Split into words: runs of letters, digits and marks. Scripts written without spaces
   between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) have no words to split on:
   each run is indexed as its characters and every pair of neighbours (bigrams), and a query
   run of two or more characters asks for its pairs, so "北京大学" finds the text that holds it.
4. Reduced to a stem in the blog's language where Snowball has a stemmer for it ("protests"
   and "protesting" are both "protest"; German "Häuser" is "haus"). Ukrainian has none yet:
   its words are matched as written (the last word of a query also as a beginning, see
   ``liveblog.editorial.search``).
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterable

import regex
import snowballstemmer

MAX_TERM = 64  # characters of a word that count: a longer one is cut (the same in queries)

# Scripts written without spaces between words, and the runs of a word's characters.
# (with the marks Japanese shares with other scripts: the long vowel and the repeat sign).
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\u30fc\uff70\u3005"
_WORDS = regex.compile(rf"([{_UNSPACED}]+)|([\p{{L}}\p{{N}}\p{{M}}]+)")  # (run, word)
# Most text has neither combining marks nor a script without spaces: its words are what the
# standard library's much faster \w finds (letters and digits; "_" is not part of a word).
_NEEDS_WORDS = regex.compile(rf"[\p{{M}}{_UNSPACED}]")
_PLAIN_WORDS = re.compile(r"[^\W_]+")
# A tag of sanitised HTML (nh3 quotes every attribute value with "): it separates words.
_TAG = re.compile(r'<(?:[^>"]|"[^"]*")*>')
_TATWEEL = "\u0640"  # Arabic's stretching stroke: typography, not a letter

# Snowball's stemmers by the language's ISO 639 code (a blog's language is a BCP 47 tag).
_STEMMERS = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "fa": "persian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "st": "sesotho", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}  # fmt: skip


def _folds_marks(base: str) -> bool:
    """Whether the combining marks on this letter are accents to drop: Latin and Greek with
    their extended blocks, Hebrew, Arabic and Syriac."""
    code = ord(base)
    return (
        code < 0x0400
        or 0x0590 <= code < 0x0780
        or 0x08A0 <= code < 0x0900
        or (0x1E00 <= code < 0x2000)
    )


def fold(word: str) -> str:
    """A word case-folded and without its accents (see the module docstring)."""
    # Cyrillic yo as ye, as most write it.
    word = word.casefold().replace("\u0451", "\u0435").replace(_TATWEEL, "")
    if word.isascii():
        return word
    kept: list[str] = []
    base = ""
    for char in unicodedata.normalize("NFKD", word):
        if unicodedata.combining(char):
            if base and _folds_marks(base):
                continue
        else:
            base = char
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


@functools.lru_cache(maxsize=64)
def _stemmer(language: str) -> snowballstemmer.Stemmer | None:
    name = _STEMMERS.get(language.split("-", 1)[0].lower())
    return None if name is None else snowballstemmer.stemmer(name)


def stem(language: str, word: str) -> str:
    """The stem of a folded word in ``language`` (the word itself where there is no stemmer)."""
    stemmer = _stemmer(language)
    if stemmer is None or not word.isalpha():
        return word
    return stemmer.stemWord(word) or word


def html_text(body: str) -> str:
    """The text of sanitised entry HTML: tags separate words, entities decoded."""
    return html.unescape(_TAG.sub(" ", body))


@functools.lru_cache(maxsize=65_536)
def _word(language: str, raw: str) -> tuple[str, str]:
    """(term, folded form) of a word as written: the same few thousand words come again and
    again in a blog, so each is folded and stemmed once."""
    folded = fold(raw)[:MAX_TERM]
    return stem(language, folded), folded


def _pairs(run: str) -> list[str]:
    """The pairs of neighbouring characters of a run (the run itself if it is one)."""
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


class Word:
    """One word of a query: its term, its folded form as written, and whether it comes from a
    script without spaces (no longer words begin with it)."""

    __slots__ = ("folded", "term", "unspaced")

    def __init__(self, term: str, folded: str, unspaced: bool) -> None:
        self.term = term
        self.folded = folded
        self.unspaced = unspaced


def _tokens(text: str) -> list[tuple[str, str]]:
    """(run of a script without spaces, word): one of the two is empty."""
    if _NEEDS_WORDS.search(text) is None:
        return [("", word) for word in _PLAIN_WORDS.findall(text)]
    return _WORDS.findall(text)


def query_words(text: str, language: str) -> list[Word]:
    """The words a query asks for: a run of a script without spaces asks for its pairs (a
    single character for itself), which a text must all hold."""
    found: list[Word] = []
    for run, raw in _tokens(text):
        if raw:
            term, folded = _word(language, raw)
            if folded:
                found.append(Word(term, folded, False))
        else:
            found.extend(Word(pair, pair, True) for pair in _pairs(fold(run)))
    return found


def terms(texts: Iterable[str], language: str, limit: int) -> list[str]:
    """The distinct terms of some texts, in the order they first appear, at most ``limit``.
    A run of a script without spaces gives its characters and their pairs."""
    seen: dict[str, None] = {}
    for text in texts:
        for run, raw in _tokens(text):
            if raw:
                term = _word(language, raw)[0]
                if term:
                    seen.setdefault(term)
            else:
                folded = fold(run)
                for char in folded:
                    seen.setdefault(char)
                for pair in _pairs(folded) if len(folded) > 1 else ():
                    seen.setdefault(pair)
            if len(seen) >= limit:
                return list(seen)[:limit]
    return list(seen)
