"""Laying the parts out as prompt tokens: stable material first, the small suffix last.

Families with repository-level tokens (Qwen2.5-Coder `<|repo_name|>`/`<|file_sep|>`,
StarCoder2 `<file_sep>`, CodeGemma `<|file_separator|>`) get each snippet as a file of its
own, and so does a model without FIM tokens whose vocab has such a separator (SmolLM2 has
`<file_sep>`). Other FIM families get the snippets as comments in the file's language, each
under a comment with its path. A prefix-only model without a separator gets them as code
under a path comment, then the current file under its own: the prompt reads like files laid
end to end, which is what such a model has seen, and holds no header for it to copy (line
ranges in a header were copied into suggestions). Special tokens come from the vocab and
user text is always tokenized as plain text, so code can never inject a control token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hearth.context.snippet import Snippet
from hearth.context.tokens import TokenCache, Tokenizer
from hearth.engine.templates import FimTemplate, Special, Text
from hearth.errors import ConfigError

_PREFIX_MARK = "\x00hearth-prefix\x00"
_SUFFIX_MARK = "\x00hearth-suffix\x00"


@dataclass
class Rendered:
    tokens: list[int]
    text: str  # the prompt as readable text, special tokens written out
    part_tokens: list[int] = field(default_factory=list)  # per snippet, then scope/prefix/suffix
    headers: list[str] = field(default_factory=list)  # per snippet: its text as laid out


# File separators a model without FIM tokens may still know from its training data.
KNOWN_FILE_SEPARATORS = ("<file_sep>", "<|file_sep|>", "<|file_separator|>")


def file_separator(tok: Tokenizer, template: FimTemplate) -> str | None:
    """The file separator token to lay snippets out as files with, if the vocab has one."""
    extra: tuple[str, ...] = () if template.uses_suffix else KNOWN_FILE_SEPARATORS
    for sep in (template.file_sep, *extra):
        if sep and tok.special_token_id(sep) is not None:
            return sep
    return None


def repo_tokens(tok: Tokenizer, template: FimTemplate) -> bool:
    """Whether snippets go into the prompt as files of their own."""
    return file_separator(tok, template) is not None


def as_comment(snippet: Snippet, comment: str) -> str:
    lines = snippet.text.rstrip("\n").split("\n")
    head = f"{comment} {snippet.path}\n"
    return head + "".join((f"{comment} {ln}" if ln.strip() else comment) + "\n" for ln in lines)


def as_code(snippet: Snippet, comment: str) -> str:
    return f"{comment} {snippet.path}\n{snippet.text.rstrip(chr(10))}\n\n"


def laid_out(snippet: Snippet, template: FimTemplate, as_file: bool, comment: str) -> str:
    """A snippet's text as the prompt holds it (the file separator token not included)."""
    if as_file:
        return f"{snippet.path}\n{snippet.text}"
    if not template.uses_suffix:
        return as_code(snippet, comment)
    return as_comment(snippet, comment)


def render(
    cache: TokenCache,
    template: FimTemplate,
    *,
    snippets: list[Snippet],
    scope: str,
    prefix: str,
    suffix: str,
    path: str | None,
    repo: str | None,
    comment: str,
) -> Rendered:
    """Token ids for the whole prompt, and the tokens each part costs."""
    tok = cache.tokenizer
    # Without snippets the repository header would only cost tokens.
    sep = file_separator(tok, template)
    use_repo = sep is not None and path is not None and bool(snippets)
    # (text or Special, owner) where owner is the part index, or -1 for template literals.
    n = len(snippets)
    segs: list[tuple[str | Special, int]] = []
    bodies = []
    if use_repo:
        if template.repo_name and tok.special_token_id(template.repo_name) is not None:
            segs += [(Special(template.repo_name), -1), (f"{repo or 'workspace'}\n", -1)]
        for i, s in enumerate(snippets):
            body = f"{s.path}\n{s.text}"
            bodies.append(body)
            segs += [(Special(sep or ""), i), (body, i)]
        segs += [(Special(sep or ""), -1), (f"{path}\n", -1)]
        lead: list[tuple[str | Special, int]] = []
    else:
        bodies = [laid_out(s, template, False, comment) for s in snippets]
        lead = [(b, i) for i, b in enumerate(bodies)]
        if bodies and path is not None and not template.uses_suffix:
            lead.append((f"{comment} {path}\n", -1))  # the current file, like the others
    for tseg in template.render(_PREFIX_MARK, _SUFFIX_MARK):
        if isinstance(tseg, Text) and tseg.text == _PREFIX_MARK:
            segs += [*lead, (scope, n), (prefix, n + 1)]
        elif isinstance(tseg, Text) and tseg.text == _SUFFIX_MARK:
            segs.append((suffix, n + 2))
        elif isinstance(tseg, Text):
            segs.append((tseg.text, -1))
        else:
            segs.append((tseg, -1))
    counts = [0] * (n + 3)
    tokens: list[int] = []
    text_parts: list[str] = []
    if tok.add_bos and tok.bos_id is not None:
        tokens.append(tok.bos_id)
    in_run = False
    carry = ""
    for i, (seg, owner) in enumerate(segs):
        if isinstance(seg, Special):
            tid = tok.special_token_id(seg.text)
            if tid is None:
                raise ConfigError(
                    f"the FIM template {template.name!r} needs the token {seg.text!r}, "
                    "which this model's vocabulary does not have",
                    'set fim_template = "auto" to detect the right template for this model',
                )
            tokens.append(tid)
            text_parts.append(seg.text)
            if owner >= 0:
                counts[owner] += 1
            in_run = False
            continue
        if not seg:
            continue
        text_parts.append(seg)
        nxt = segs[i + 1] if i + 1 < len(segs) else None
        if owner < 0 and nxt is not None and isinstance(nxt[0], str) and nxt[1] >= 0:
            carry += seg  # a template literal tokenizes with the user text after it
            continue
        body = carry + seg
        carry = ""
        ids = cache.run(body, continued=in_run)
        tokens.extend(ids)
        if owner >= 0:
            counts[owner] += len(ids)
        in_run = True
    if carry:
        tokens.extend(cache.run(carry, continued=in_run))
    return Rendered(tokens, "".join(text_parts), counts, bodies)
