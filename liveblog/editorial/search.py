"""Search: what the index keeps of an entry, what a query asks, and an index kept complete.

The engine keeps the index in the same atomic write as each change (``Change.search``): per
term, the entries that hold it. The terms are made here, once per change, from the headline,
the text of the sanitised body and the photos' captions and alt texts, in the blog's language
(``liveblog.editorial.words``: case and accents folded, stems where Snowball has a stemmer).

A query asks for entries that hold every one of its words. The last word also finds longer
words it begins ("zelen" finds "Zelensky") unless the query ends with a space: at least
``PREFIX_MIN`` characters, and the first ``PREFIX_EXPANSIONS`` such words of the blog (in
alphabetical order) count.

The index is complete in one language, the blog's: entries from before the index existed, or
indexed in another language (the blog's language changed), are indexed on the first search
that finds it incomplete, in steps, as the highlights are (``Engine.highlights``).
"""

from __future__ import annotations

import asyncio
import time
import weakref

from liveblog.editorial import words
from liveblog.engine.base import (
    BlogNotFound,
    Engine,
    SearchPage,
    SearchQuery,
    SearchTerms,
)
from liveblog.models import Blog, Entry

MAX_QUERY = 200  # characters of a query
MAX_QUERY_TERMS = 12  # terms a query may ask for (a run of Chinese is one per pair)
MAX_ENTRY_TERMS = 4000  # distinct terms indexed of one entry (a 64 KiB body holds ~2,000)
PREFIX_MIN = 3  # characters of a last word that may begin longer words
PREFIX_EXPANSIONS = 100  # longer words a last word may stand for
# A process learns of a change of a blog's language made on another one this late at most;
# a write made meanwhile in the old one marks the index incomplete, and a search mends it.
LANGUAGE_SECONDS = 30.0
_INDEX_BATCH = 50  # entries per write while indexing the backlog
# Searches one process runs on the store at once (more wait here): a crowd of readers
# searching never queues more than this many scripts ahead of the newsroom's writes.
CONCURRENT_SEARCHES = 4


class InvalidQuery(ValueError):
    """The query cannot be searched for (API: 422 at ``q``)."""


def entry_terms(entry: Entry, language: str) -> SearchTerms:
    """The terms the index keeps of ``entry``."""
    texts = [entry.headline or "", words.html_text(entry.body)]
    for media in entry.media:
        texts += [media.caption or "", media.alt or ""]
    return SearchTerms(language, words.terms(texts, language, MAX_ENTRY_TERMS))


def parse_query(text: str, language: str) -> SearchQuery:
    """The terms a reader's words ask for (see the module docstring); InvalidQuery if none,
    or too many."""
    if len(text) > MAX_QUERY:
        raise InvalidQuery(f"must be at most {MAX_QUERY} characters")
    found = words.query_words(text, language)
    if not found:
        raise InvalidQuery("holds no word to search for")
    prefix = prefix_term = ""
    last = found[-1]
    if not last.unspaced and not text[-1].isspace() and len(last.folded) >= PREFIX_MIN:
        prefix, prefix_term = last.folded, last.term
        found = found[:-1]
    terms = list(dict.fromkeys(word.term for word in found if word.term != prefix_term))
    if len(terms) + bool(prefix) > MAX_QUERY_TERMS:
        raise InvalidQuery(f"asks for too many words: at most {MAX_QUERY_TERMS}")
    return SearchQuery(terms, prefix, prefix_term, PREFIX_EXPANSIONS)


async def search(
    engine: Engine,
    blog: Blog,
    query: SearchQuery,
    limit: int,
    before: str | None,
    *,
    everything: bool = False,
) -> SearchPage:
    """Entries of ``blog`` that match, newest first (published ones; every status with
    ``everything``); the index is first made complete if it is not."""
    gate = _gates.get(engine)
    if gate is None:
        gate = _gates[engine] = asyncio.Semaphore(CONCURRENT_SEARCHES)
    async with gate:
        page = await engine.search(blog.slug, query, limit, before, everything=everything)
    if page.indexed_in == blog.language:
        return page
    await complete_index(engine, blog.slug, blog.language)
    async with gate:
        return await engine.search(blog.slug, query, limit, before, everything=everything)


_gates: weakref.WeakKeyDictionary[Engine, asyncio.Semaphore] = weakref.WeakKeyDictionary()


# Passes in progress in this process, per engine and blog: a crowd of searches waits for one.
_passes: weakref.WeakKeyDictionary[Engine, dict[str, asyncio.Task[bool]]] = (
    weakref.WeakKeyDictionary()
)


async def complete_index(engine: Engine, slug: str, language: str) -> bool:
    """Index every entry of the blog that is not indexed in ``language``; True once the index
    is complete in it (False: a change in another language came in between)."""
    passes = _passes.setdefault(engine, {})
    task = passes.get(slug)
    if task is None:
        task = passes[slug] = asyncio.ensure_future(_index_pass(engine, slug, language))
        task.add_done_callback(lambda _: passes.pop(slug, None))
    return await asyncio.shield(task)


async def _index_pass(engine: Engine, slug: str, language: str) -> bool:
    await engine.begin_search_index(slug, language)
    cursor = ""
    while True:
        step = await engine.search_backlog(slug, language, cursor)
        for start in range(0, len(step.entries), _INDEX_BATCH):
            batch = []
            for entry in step.entries[start : start + _INDEX_BATCH]:
                batch.append((entry, entry_terms(entry, language)))
                await asyncio.sleep(0)  # a long body costs a few ms: let the loop deliver
            await engine.index_search(slug, batch)
        if step.cursor is None:
            break
        cursor = step.cursor
    return await engine.finish_search_index(slug, language)


# The language of each blog, per engine, as this process last read it: (read at, language).
_languages: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, str]]] = (
    weakref.WeakKeyDictionary()
)
_LANGUAGES_SIZE = 10_000


async def language_of(engine: Engine, slug: str) -> str:
    """The blog's language, read at most every ``LANGUAGE_SECONDS`` (BlogNotFound if none)."""
    known = _languages.setdefault(engine, {})
    cached = known.get(slug)
    if cached is not None and time.monotonic() - cached[0] < LANGUAGE_SECONDS:
        return cached[1]
    blog = await engine.get_blog(slug)
    if blog is None:
        raise BlogNotFound(slug)
    remember_language(engine, slug, blog.language)
    return blog.language


def remember_language(engine: Engine, slug: str, language: str) -> None:
    known = _languages.setdefault(engine, {})
    if len(known) >= _LANGUAGES_SIZE:
        known.clear()
    known[slug] = (time.monotonic(), language)


async def terms_of(engine: Engine, slug: str, entry: Entry | None) -> SearchTerms:
    """What a change of an entry tells the index: its terms after it (none: deleted)."""
    language = await language_of(engine, slug)
    return SearchTerms(language) if entry is None else entry_terms(entry, language)


__all__ = [
    "InvalidQuery",
    "complete_index",
    "entry_terms",
    "language_of",
    "parse_query",
    "remember_language",
    "search",
    "terms_of",
]
