"""Scripts and stylesheets lose their comments and layout before they are compressed, and
nothing else (liveblog/pages/minify.py). The browser tests run every served script."""

from __future__ import annotations

from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.minify import minify

SCRIPT = b"""// A comment that says why.
/** And a block one. */
const url = `ws://${location.host}/blogs /* not a comment */ // nor this`;
const secret = /[#&?]secret=([A-Za-z0-9]+)/.exec(hash)?.[1];
const half = total / 2 / parts;
const text = "a // string";
const lines = `one
  two`;
export function f() {
  return 1;
}
"""


def test_a_script_keeps_its_code_and_loses_its_comments() -> None:
    served = minify("reader/x.js", SCRIPT)
    assert b"comment that says why" not in served and b"block one" not in served
    for code in (
        b"`ws://${location.host}/blogs /* not a comment */ // nor this`",
        b"/[#&?]secret=([A-Za-z0-9]+)/.exec(hash)?.[1]",
        b"total/2/parts",
        b'"a // string"',
        b"`one\n  two`",  # a template literal is kept as written, line break and all
        b"export function f(){return 1;}",
    ):
        assert code in served, code


def test_a_stylesheet_keeps_its_rules() -> None:
    css = b'/* why */\n.a  >  .b {\n  width: calc(100vw - 40px);\n  content: "x  /* y */";\n}\n'
    assert minify("reader.css", css) == b'.a>.b{width:calc(100vw - 40px);content:"x  /* y */"}'


def test_other_files_and_text_that_is_not_utf8_are_served_as_written() -> None:
    svg = (STATIC_DIR / "favicon.svg").read_bytes()
    assert minify("favicon.svg", svg) == svg
    latin1 = "const name = 'Jos\xe9'; // a comment\n".encode("latin-1")
    assert minify("old.js", latin1) == latin1


def test_every_script_and_stylesheet_of_the_pages_gets_smaller() -> None:
    for path in [*STATIC_DIR.rglob("*.js"), *STATIC_DIR.rglob("*.css")]:
        source = path.read_bytes()
        assert len(minify(path.name, source)) < len(source), path
