"""The search index itself: words as terms (case, accents, scripts, stems), and the engine's
index on memory, Redis and Redis Cluster: the same write as the change, mended by a search when
a change came without terms or in another language, never overwritten by an older pass."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import msgspec
import pytest

from liveblog.config import Settings
from liveblog.editorial import editing, search, words
from liveblog.engine import make_engine
from liveblog.engine.base import Change, Engine, SearchQuery, SearchTerms
from liveblog.models import BlogCreate, Entry, EntryCreate, EntryPatch, encoder
from tests.conftest import ALL_ENGINES


def _terms(text: str, language: str = "en") -> list[str]:
    return words.terms([text], language, 1000)


def test_words_are_folded_split_and_stemmed() -> None:
    assert _terms("KYÏV, Kyiv and kyiv") == ["kyiv", "and"]
    assert _terms("Résumé CAFÉ naïve Straße") == ["resum", "cafe", "naiv", "strass"]
    assert _terms("snake_case and e-mail") == ["snake", "case", "and", "e", "mail"]
    # Cyrillic keeps its letters (й is not и), but ё loses its dots; Greek loses its tonos.
    assert _terms("Київ Йосип Ёлка", "uk") == ["київ", "йосип", "елка"]
    assert _terms("Αθήνα ΑΘΗΝΑ", "el") == [words.stem("el", "αθηνα")]
    # Arabic: harakat and hamza seats fold away, then the Arabic stemmer takes the article.
    assert _terms("المُظَاهَرات", "ar") == _terms("المظاهرات", "ar") == ["مظاهر"]
    # Scripts without spaces: characters and pairs; Thai keeps its vowel marks.
    assert _terms("北京大学") == ["北", "京", "大", "学", "北京", "京大", "大学"]
    assert "ภา" in _terms("ภาษา")
    # German stems; English stems.
    assert _terms("Häuser Haus", "de") == ["haus"]
    assert _terms("protests protesting protested") == ["protest"]
    # Tags separate words and entities are text.
    assert _terms(words.html_text("<p>river</p><p>bank &amp; shore</p>")) == [
        "river", "bank", "shore",
    ]  # fmt: skip
    # A very long "word" counts by its start; a text gives at most `limit` terms.
    assert _terms("x" * 500) == ["x" * words.MAX_TERM]
    assert words.terms(["one two three four"], "en", 2) == ["one", "two"]


def test_a_query_is_its_words_and_the_last_one_begins_others() -> None:
    query = search.parse_query("Protests in KYÏ", "en")
    assert query.terms == ["protest", "in"]
    assert (query.prefix, query.prefix_term) == ("kyi", "kyi")
    whole = search.parse_query("Protests in KYIV ", "en")
    assert whole.terms == ["protest", "in", "kyiv"] and whole.prefix == ""
    assert search.parse_query("in ky", "en").prefix == ""  # too short to begin others
    assert search.parse_query("北京大学", "en").terms == ["北京", "京大", "大学"]
    for bad in ["", "   ", "?!", "x" * 201, " ".join(f"w{i}" for i in range(13))]:
        with pytest.raises(search.InvalidQuery):
            search.parse_query(bad, "en")


@pytest.fixture(params=ALL_ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def engine(settings_factory: Callable[..., Settings]) -> AsyncIterator[Engine]:
    engine = make_engine(settings_factory())
    await engine.start()
    yield engine
    await engine.close()


async def _find(engine: Engine, text: str, slug: str = "b", everything: bool = False) -> list[str]:
    blog = await engine.get_blog(slug)
    assert blog is not None
    query = search.parse_query(text, blog.language)
    page = await search.search(engine, blog, query, 100, None, everything=everything)
    return [entry.id for entry in page.entries]


async def _entry(engine: Engine, body: str, slug: str = "b") -> Entry:
    raw, *_ = await editing.create_entry(engine, slug, EntryCreate(body=body))
    return msgspec.json.decode(raw, type=Entry)


async def test_a_change_without_terms_is_indexed_by_the_next_search(engine: Engine) -> None:
    await editing.create_blog(engine, BlogCreate(slug="b", title="B"))
    entry = await _entry(engine, "<p>The lighthouse keeper.</p>")
    assert await _find(engine, "lighthouse ") == [entry.id]
    # A path that writes an entry without its terms (as an import or a later feature might).
    changed = msgspec.structs.replace(entry, body="<p>The harbour master.</p>", version=2)
    await engine.apply("b", Change(
        event=None, entry_id=entry.id, entry=encoder.encode(changed), entry_version=2,
        order_key=entry.order_key, old_order_key=entry.order_key, expect_version=1,
    ))  # fmt: skip
    assert await _find(engine, "harbour ") == [entry.id]
    assert await _find(engine, "lighthouse ") == []


async def test_an_older_pass_never_overwrites_a_newer_change(engine: Engine) -> None:
    await editing.create_blog(engine, BlogCreate(slug="b", title="B"))
    first = await _entry(engine, "<p>Ferry cancelled.</p>")
    await editing.update_entry(engine, "b", first.id, EntryPatch(body="<p>Bus cancelled.</p>"), 1)
    # A pass that read the entry before that edit comes late with its terms.
    await engine.index_search("b", [(first, search.entry_terms(first, "en"))])
    assert await _find(engine, "ferry ") == []
    assert await _find(engine, "bus ") == [first.id]


async def test_a_change_in_another_language_leaves_the_index_incomplete(engine: Engine) -> None:
    await editing.create_blog(engine, BlogCreate(slug="b", title="B"))
    entry = await _entry(engine, "<p>Viele Häuser.</p>")
    await engine.begin_search_index("b", "en")
    # A process that had not heard of the blog's new language writes in the old one.
    await engine.apply("b", Change(event=None, search=SearchTerms("de")))
    assert not await engine.finish_search_index("b", "en")
    await engine.begin_search_index("b", "en")
    assert await engine.finish_search_index("b", "en")
    assert await _find(engine, "hauser ") == [entry.id]


async def test_the_last_word_stands_for_at_most_so_many_words(engine: Engine) -> None:
    await editing.create_blog(engine, BlogCreate(slug="b", title="B"))
    ids = [(await _entry(engine, f"<p>{word}</p>")).id for word in ("kyivc", "kyiva", "kyivb")]
    await search.complete_index(engine, "b", "en")
    query = SearchQuery([], prefix="kyiv", prefix_term="", expansions=2)
    page = await engine.search("b", query, 10, None, everything=False)
    assert sorted(e.id for e in page.entries) == sorted(ids[1:])  # kyiva, kyivb: the first two
    assert page.total == 2
