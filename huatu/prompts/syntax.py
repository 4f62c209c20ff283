"""A prompt in AUTOMATIC1111's syntax, read into weighted pieces.

The rules (A1111's wiki, "Attention/emphasis", and its parser's documented examples):

* ``(text)`` multiplies the attention to ``text`` by 1.1, ``[text]`` divides it by 1.1; they
  nest (``((text))`` is 1.21).
* ``(text:1.3)`` sets the factor to 1.3 instead of 1.1 (nested inside other brackets, the
  factors multiply).
* ``\\(``, ``\\)``, ``\\[``, ``\\]`` and ``\\\\`` are the characters themselves.
* A bracket left open applies to the rest of the prompt; a closing bracket without an opening
  one is an ordinary character.
* ``BREAK`` (upper case, a word of its own) ends the current 75-token chunk.
* Neighbouring pieces of equal weight are joined.

Extra-network tags ``<lora:name:weight>`` are taken out first (:func:`extra_networks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: What ``(text)`` multiplies by, and ``[text]`` divides by.
ROUND_FACTOR = 1.1
SQUARE_FACTOR = 1 / 1.1
#: The word that ends a chunk.
BREAK_WORD = "BREAK"

_TOKEN = re.compile(
    r"""
    \\[()\[\]\\]            # an escaped bracket or backslash
    | \\                    # a lone backslash
    | \(                    # an opening round bracket
    | \[                    # an opening square bracket
    | :\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*\)   # ":1.3)" closes with a weight
    | \)                    # a closing round bracket
    | \]                    # a closing square bracket
    | [^\\()\[\]:]+         # text
    | :                     # a colon that is just text
    """,
    re.VERBOSE,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*")
#: ``<kind:name>`` or ``<kind:name:weight…>`` (A1111's extra networks).
_EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")


@dataclass(frozen=True)
class Piece:
    """Text read with one weight, or a ``BREAK`` (``text`` empty, ``is_break`` set).

    Attributes:
        text: the text, brackets and escapes resolved.
        weight: the attention weight of its tokens.
        is_break: it is a ``BREAK``. Default off.
    """

    text: str
    weight: float = 1.0
    is_break: bool = False


@dataclass(frozen=True)
class ExtraNetwork:
    """An extra-network tag of a prompt, e.g. ``<lora:watercolor:0.8>``.

    Attributes:
        kind: ``lora`` (others are kept for the edge to refuse or ignore).
        name: what it names.
        weight: its first weight (the LoRA's strength). Default 1.0.
        text: the tag as written.
    """

    kind: str
    name: str
    weight: float
    text: str


def extra_networks(prompt: str) -> tuple[str, list[ExtraNetwork]]:
    """``prompt`` without its ``<kind:name[:weight]>`` tags, and the tags in order.

    Raises:
        ValueError: a tag's weight is not a number (the edge names the tag).
    """
    found: list[ExtraNetwork] = []

    def take(match: re.Match[str]) -> str:
        name, _, rest = match[2].partition(":")
        weight_text = rest.split(":")[0].strip()
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise ValueError(match[0]) from None
        found.append(ExtraNetwork(match[1].lower(), name.strip(), weight, match[0]))
        return ""

    return _EXTRA_NETWORK.sub(take, prompt), found


def parse_weights(prompt: str) -> list[Piece]:
    """``prompt`` read into pieces of text with their weights, and ``BREAK`` markers.

    >>> [(piece.text, piece.weight) for piece in parse_weights("an (important) word")]
    [('an ', 1.0), ('important', 1.1), (' word', 1.0)]
    """
    pieces: list[list] = []  # [text, weight, is_break]
    round_open: list[int] = []
    square_open: list[int] = []

    def scale(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            piece[1] *= factor

    for match in _TOKEN.finditer(prompt):
        token, number = match[0], match[1]
        if token.startswith("\\") and len(token) == 2:
            pieces.append([token[1], 1.0, False])
        elif token == "(":
            round_open.append(len(pieces))
        elif token == "[":
            square_open.append(len(pieces))
        elif number is not None and round_open:
            scale(round_open.pop(), float(number))
        elif token == ")" and round_open:
            scale(round_open.pop(), ROUND_FACTOR)
        elif token == "]" and square_open:
            scale(square_open.pop(), SQUARE_FACTOR)
        else:  # text (maybe with BREAKs), a lone colon or backslash, an unmatched bracket
            for index, part in enumerate(_BREAK.split(token)):
                if index:
                    pieces.append(["", 1.0, True])
                pieces.append([part, 1.0, False])
    for start in round_open:  # left open: to the end
        scale(start, ROUND_FACTOR)
    for start in square_open:
        scale(start, SQUARE_FACTOR)
    return _joined([Piece(*piece) for piece in pieces]) or [Piece("", 1.0)]


def _joined(pieces: list[Piece]) -> list[Piece]:
    """Neighbouring text pieces of equal weight joined; empty text dropped."""
    joined: list[Piece] = []
    for piece in pieces:
        if not piece.is_break and not piece.text:
            continue
        last = joined[-1] if joined else None
        if last and not last.is_break and not piece.is_break and last.weight == piece.weight:
            joined[-1] = Piece(last.text + piece.text, last.weight)
        else:
            joined.append(piece)
    return joined


def refuse_extra_networks(prompt: str) -> None:
    """Refuse a prompt with ``<lora:…>`` tags for a backend that cannot use them (a hosted
    model): sent as text, they would only confuse it.

    Raises:
        ValidationError: ``prompt``, naming the first tag.
    """
    from huatu.errors import ValidationError

    match = _EXTRA_NETWORK.search(prompt)
    if match is not None:
        raise ValidationError("prompt", match[0], "extra_network_not_here", tag=match[0])
