"""Weighted prompt pieces tokenized into CLIP's 75-token chunks, as AUTOMATIC1111 does.

Each chunk holds up to 75 content tokens between the start and end tokens, then the
tokenizer's padding token up to 77 (as the tokenizer pads one prompt, and as A1111 does);
every token carries the weight of the piece it came from (start, end and padding: 1.0). A
chunk that fills up moves the words after its last comma to the next chunk when that comma is
among its last 20 tokens, so a phrase is not cut in two; ``BREAK`` pads the current chunk and
starts the next. A prompt is never cut short: a long one is simply more chunks, encoded one by
one and joined (:mod:`huatu.prompts.encoding`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from huatu.prompts.syntax import Piece

#: Content tokens per chunk (CLIP reads 77 with the start and end tokens).
CHUNK_TOKENS = 75
#: How far back (in tokens) a full chunk looks for a comma to break after.
COMMA_BACKTRACK = 20


@dataclass
class Chunk:
    """One chunk: token ids and their weights, both 77 long once closed."""

    tokens: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class TokenIds:
    """The special token ids of a tokenizer.

    Attributes:
        start: the start-of-text id. end: the end-of-text id. pad: the padding id.
        comma: the id of ``,`` (for breaking after a comma).
    """

    start: int
    end: int
    pad: int
    comma: int

    @classmethod
    def of(cls, tokenizer: object) -> TokenIds:
        """The ids of a ``transformers`` CLIP tokenizer."""
        comma = tokenizer(",", add_special_tokens=False).input_ids  # type: ignore[operator]
        pad = tokenizer.pad_token_id  # type: ignore[attr-defined]
        end = tokenizer.eos_token_id  # type: ignore[attr-defined]
        return cls(
            start=tokenizer.bos_token_id,  # type: ignore[attr-defined]
            end=end,
            pad=end if pad is None else pad,
            comma=comma[0] if comma else -1,
        )


@dataclass
class Chunked:
    """A prompt as chunks.

    Attributes:
        chunks: the closed chunks (at least one).
        token_count: content tokens, counting every chunk but the last as full (what the
            studio shows as "N/75").
    """

    chunks: list[Chunk]
    token_count: int

    @property
    def limit(self) -> int:
        """The token count's limit shown beside it: 75, or the chunks' room beyond that."""
        return CHUNK_TOKENS * chunk_count(self.token_count)


def chunk_count(tokens: int, size: int = CHUNK_TOKENS) -> int:
    """How many chunks of ``size`` tokens (default 75) ``tokens`` content tokens take (at
    least one)."""
    return max(1, -(-tokens // size))


def chunk_pieces(
    pieces: list[Piece], tokenize: Callable[[str], list[int]], ids: TokenIds
) -> Chunked:
    """Tokenize weighted ``pieces`` into chunks.

    Args:
        pieces: the prompt read by :func:`huatu.prompts.syntax.parse_weights`.
        tokenize: text → token ids, without start and end tokens.
        ids: the tokenizer's special ids.
    """
    chunks: list[Chunk] = []
    current = Chunk()
    state = {"comma": -1, "count": 0}

    def close(last: bool = False) -> None:
        nonlocal current
        state["count"] += len(current.tokens) if last else CHUNK_TOKENS
        room = CHUNK_TOKENS - len(current.tokens)
        current.tokens = [ids.start, *current.tokens, ids.end, *[ids.pad] * room]
        current.weights = [1.0, *current.weights, 1.0, *[1.0] * room]
        chunks.append(current)
        current, state["comma"] = Chunk(), -1

    for piece in pieces:
        if piece.is_break:
            close()
            continue
        for token in tokenize(piece.text):
            if token == ids.comma:
                state["comma"] = len(current.tokens)
            elif (
                len(current.tokens) == CHUNK_TOKENS
                and state["comma"] != -1
                and len(current.tokens) - state["comma"] <= COMMA_BACKTRACK
            ):  # full: the words after the last comma go on in the next chunk
                cut = state["comma"] + 1
                moved = Chunk(current.tokens[cut:], current.weights[cut:])
                current.tokens, current.weights = current.tokens[:cut], current.weights[:cut]
                close()
                current = moved
            if len(current.tokens) == CHUNK_TOKENS:
                close()
            current.tokens.append(token)
            current.weights.append(piece.weight)
    if current.tokens or not chunks:
        close(last=True)
    return Chunked(chunks, state["count"])
