"""Git names are bytes: the one rule that shows them as text, and reads them back.

git stores a path, a ref name or a commit message as bytes, with no encoding promised: a
repo made on a Latin-1 machine holds `caf\\xe9.txt` (one byte 0xE9), which is no UTF-8.
Everything RepoHub shows (HTML, JSON, HTTP headers, URLs, hook messages, the database)
needs real text, so each name is turned into text once, where it leaves git, by this rule:

* valid UTF-8 is shown as itself (`café.txt` stays `café.txt`);
* every byte that is not part of valid UTF-8 is shown as `\\xNN` (Python's
  `backslashreplace`: `caf\\xe9.txt`), so the text is pure, printable-as-is Unicode with no
  lone surrogates that a JSON encoder, a template or a header would choke on;
* for paths, control characters (a newline, an ESC that would drive the pusher's terminal)
  are shown as `\\xNN` too, and a literal backslash that would read as such an escape (`\\`
  then `x` and two hex digits) is itself shown as `\\x5c`, so a path's text maps back to
  exactly one byte string: `git_path(shown_path(raw)) == raw` for every `raw`.

That last property is why the shown text is also the name the Hub API, the web pages and
their URLs use to fetch the file again: a client that lists `caf\\xe9.txt` and asks for
`caf%5Cxe9.txt` gets the file. Commit messages and authors are shown by the same rule
(after the commit's own `encoding` header, if it names one). Ref names are the exception:
RepoHub keeps them as text in its database, so a push refuses one that is not UTF-8
(`repohub.git.policy`). Only the standard library is used: the shipped push hooks import
this module on every push.
"""

from __future__ import annotations

import codecs
import re

ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
ESCAPED_IN_PATHS = re.compile(rb"[\x00-\x1f\x7f]|\\(?=x[0-9a-fA-F]{2})")


def shown_text(raw: bytes) -> str:
    """Bytes of unknown encoding (a message, an author, a hook's output) as text: UTF-8,
    each undecodable byte as `\\xNN`. Never raises."""
    return raw.decode("utf-8", "backslashreplace")


def shown_path(raw: bytes) -> str:
    """A git path (or one component of it) as text, by the module's rule; reversible with
    `git_path`, unlike `shown_text`, because literal escape-like backslashes are escaped."""
    return shown_text(ESCAPED_IN_PATHS.sub(lambda m: b"\\x%02x" % m[0][0], raw))


def git_path(shown: str) -> bytes:
    """The bytes a shown path names: `\\xNN` is the byte NN, all else is UTF-8.

    Text from a request may hold anything, lone surrogates included (JSON allows `\\udce9`):
    those are passed through as bytes no tree entry can match, never an error.
    """
    out = bytearray()
    pos = 0
    for match in ESCAPE.finditer(shown):
        out += shown[pos : match.start()].encode("utf-8", "surrogatepass")
        out.append(int(match[1], 16))
        pos = match.end()
    out += shown[pos:].encode("utf-8", "surrogatepass")
    return bytes(out)


def canonical_path(shown: str) -> str:
    """The one shown form of what `shown` names (`caf\\xc3\\xa9` is `café`), so an answer
    echoes a path exactly as a listing shows it."""
    return shown_path(git_path(shown))


def commit_text(raw: bytes, encoding: bytes | None = None) -> str:
    """A commit's message or author line: in the `encoding` its header declares (git's
    `i18n.commitEncoding`, as `git log` honours it) when that decodes cleanly, otherwise by
    the display rule. An unknown or lying header falls back rather than fails."""
    if encoding:
        try:
            text = raw.decode(codecs.lookup(encoding.decode("ascii")).name)
            text.encode("utf-8")  # `unicode_escape` and kin can make lone surrogates
            return text
        except (LookupError, ValueError):  # UnicodeError is a ValueError
            pass
    return shown_text(raw)
