"""The character set of text-mode observations and actions.

:class:`gymnasium.spaces.Text` checks every character of a string against its charset, so the
charset has to cover everything an observation can hold. Ours is printable ASCII, newline and tab,
plus the non-ASCII ranges clinical text uses: Latin-1 and Latin Extended-A letters (``é``, ``ö``),
Greek (``α``, ``µ``), general punctuation (``–``, ``—``, ``’``, ``…``), super- and subscripts
(``10⁹/L``), letter-like symbols (``℃``), arrows (``→``) and mathematical operators (``≥``,
``−``, ``×``). :func:`normalise` maps anything else into the set — first by Unicode compatibility
decomposition (``ﬁ`` → ``fi``, ``é`` written as ``e`` + accent → ``é``), and a character that still
falls outside becomes U+FFFD ``�`` — so an observation is always inside the space.
"""

from __future__ import annotations

import unicodedata

_RANGES = (
    (0x20, 0x7E),  # printable ASCII
    (0xA0, 0xFF),  # Latin-1 supplement: ° µ × é ...
    (0x100, 0x17F),  # Latin Extended-A
    (0x391, 0x3A9),  # Greek capitals
    (0x3B1, 0x3C9),  # Greek small letters
    (0x2010, 0x2027),  # dashes, quotes, bullets, ellipsis
    (0x2030, 0x205E),  # per mille, primes, angle quotes ...
    (0x2070, 0x209C),  # superscripts and subscripts
    (0x20AC, 0x20AC),  # euro sign
    (0x2100, 0x214F),  # letter-like symbols
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators
    (0xFFFD, 0xFFFD),  # the replacement character
)

CHARSET: frozenset = frozenset(
    {"\n", "\t"}
    | {
        chr(code)
        for low, high in _RANGES
        for code in range(low, high + 1)
        if unicodedata.category(chr(code)) not in ("Cn", "Cc", "Cs")
    }
)
"""Every character a text observation or action may contain."""

REPLACEMENT = "\ufffd"


def normalise(text: str) -> str:
    """``text`` with every character inside :data:`CHARSET` (``\\r\\n`` becomes ``\\n``)."""
    if all(ch in CHARSET for ch in text):
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    out = []
    for ch in text:
        if ch in CHARSET:
            out.append(ch)
            continue
        decomposed = [
            c
            for c in unicodedata.normalize("NFKD", ch)
            if c in CHARSET and unicodedata.category(c) != "Mn"
        ]
        out.append("".join(decomposed) or REPLACEMENT)
    return "".join(out)
