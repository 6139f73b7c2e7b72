"""Text handling shared by the IES and LDT readers: decoding, and numbers with the line they came from."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import PhotometryFileError

__all__ = ["NumberStream", "decode", "number_tokens"]

_SPLIT = re.compile(r"[\s,]+")


def decode(raw: bytes, source: str) -> str:
    """Text of a photometric file: UTF-8 if it is, else Windows-1252, else Latin-1 (which never fails)."""
    if b"\x00" in raw[:4096]:
        raise PhotometryFileError(source, None, "is a binary file, not IES or LDT text",
                                  "export the photometry as an IES LM-63 (.ies) or EULUMDAT (.ldt) file")
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


@dataclass(frozen=True)
class _Token:
    text: str
    line: int


def number_tokens(lines: Sequence[str], first_line: int, decimal_comma: bool = False) -> list[_Token]:
    """Every whitespace- (or comma-) separated token of ``lines``, numbered from ``first_line`` (1-based)."""
    out: list[_Token] = []
    for offset, line in enumerate(lines):
        parts = line.split() if decimal_comma else [p for p in _SPLIT.split(line) if p]
        out.extend(_Token(p, first_line + offset) for p in parts)
    return out


class NumberStream:
    """Reads numbers one after another, each error naming the file and the line of the offending token."""

    def __init__(self, source: str, tokens: list[_Token], last_line: int, decimal_comma: bool = False) -> None:
        self.source = source
        self._tokens = tokens
        self._pos = 0
        self._last_line = last_line
        self._comma = decimal_comma

    @property
    def line(self) -> int:
        """The line of the next token (or the last line when none is left)."""
        return self._tokens[self._pos].line if self._pos < len(self._tokens) else self._last_line

    def remaining(self) -> int:
        return len(self._tokens) - self._pos

    def number(self, what: str) -> float:
        if self._pos >= len(self._tokens):
            raise PhotometryFileError(self.source, self._last_line, f"the file ends before {what}",
                                      "the file is truncated: export it again from the manufacturer's tool")
        tok = self._tokens[self._pos]
        text = tok.text.replace(",", ".") if self._comma else tok.text
        try:
            value = float(text)
        except ValueError:
            raise PhotometryFileError(self.source, tok.line, f"{what} is {tok.text!r}, not a number",
                                      "check the value counts in the header against the table") from None
        if not math.isfinite(value):
            raise PhotometryFileError(self.source, tok.line, f"{what} is {tok.text!r}", "use a finite number")
        self._pos += 1
        return value

    def integer(self, what: str, lo: int, hi: int) -> int:
        line = self.line
        value = self.number(what)
        if value != int(value) or not lo <= value <= hi:
            raise PhotometryFileError(self.source, line, f"{what} is {value:g}",
                                      f"use a whole number from {lo} to {hi}")
        return int(value)

    def numbers(self, count: int, what: str) -> list[float]:
        if self.remaining() < count:
            raise PhotometryFileError(
                self.source, self._last_line,
                f"truncated: {what} needs {count} values but only {self.remaining()} remain",
                "the table is cut short: export the file again, or fix the angle counts in the header")
        return [self.number(f"{what} value {i + 1}") for i in range(count)]
