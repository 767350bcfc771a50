"""Plate formats per country and the OCR fixes that follow from them (pure).

An OCR engine reads "GX-5I2-K" or "NL GX 512 K"; the country's formats say which positions
hold letters and which digits, so a letter read where a digit belongs (and the other way
round) is swapped for its look-alike (O/0, I/1, B/8, S/5, Z/2, G/6, ...). The best-fitting
format also gives the plate its printed grouping ("GX-512-K").

    match = fit_plate("NL GX-5I2-K", countries=("NL",))
    match.plate == "GX-512-K"; match.normalized == "GX512K"; match.fixes == 1

Formats are patterns of L (letter), D (digit), S (the German E / H suffix) and separators
("-" or " "); a read needs at most MAX_FIXES look-alike swaps. A read that
fits no format of the allowed countries gives None: the caller drops it (most false reads
of a recognizer are text that is not a plate: stickers, signs, the EU band's "NL").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

# letter read where a digit belongs -> the digit it looks like, and the reverse
TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "J": "1", "T": "7",
            "Z": "2", "S": "5", "B": "8", "G": "6", "A": "4", "E": "3"}
TO_LETTER = {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G", "4": "A", "7": "T",
             "3": "E"}
# letters some countries never issue: a fix into them is a worse fit
_NO_LETTERS = {"NL": "AEIOUCQMWY", "FR": "IOU", "GB": "IQZ", "BE": "", "DE": ""}
MAX_FIXES = 2
_SEPARATORS = re.compile(r"[\s\-._:·|]+")
EU_BAND_CODES = frozenset({"NL", "D", "B", "F", "GB", "UK", "L", "A", "E", "I", "P", "CH",
                           "EU"})


def _de_formats() -> tuple[str, ...]:
    out = []
    for district, letters, digits in product(range(1, 4), range(1, 3), range(1, 5)):
        if district + letters + digits > 8:
            continue
        base = f"{'L' * district}-{'L' * letters} {'D' * digits}"
        out.append(base)
        out.append(base + "S")  # E (electric) / H (historic): not counted in the 8
    return tuple(out)


FORMATS: dict[str, tuple[str, ...]] = {
    # the 14 sidecodes, newest first (a tie goes to the one issued now)
    "NL": ("LL-DDD-L", "L-DDD-LL", "LLL-DD-L", "L-DD-LLL", "D-LL-DDD", "DDD-LL-D",
           "DD-LLL-D", "D-LLL-DD", "LL-LL-DD", "DD-LL-LL", "DD-LL-DD", "LL-DD-LL",
           "LL-DD-DD", "DD-DD-LL"),
    "DE": _de_formats(),
    "BE": ("D-LLL-DDD",),
    "FR": ("LL-DDD-LL",),
    "GB": ("LLDD LLL",),
}
COUNTRIES: tuple[str, ...] = tuple(FORMATS)


@dataclass(frozen=True, slots=True)
class PlateMatch:
    plate: str  # in its printed form: "GX-512-K"
    normalized: str  # letters and digits: "GX512K"
    country: str
    fixes: int  # characters swapped for their look-alike
    cost: float  # lower is a better fit (fixes, dropped characters, grouping)


def _groups(fmt: str) -> list[int]:
    return [len(g) for g in _SEPARATORS.split(fmt) if g]


def _slots(fmt: str) -> str:
    return "".join(c for c in fmt if c in "LDS")


def _render(fmt: str, chars: str) -> str:
    it = iter(chars)
    return "".join(next(it) if c in "LDS" else c for c in fmt)


def _boundaries(lengths: list[int]) -> set[int]:
    out, pos = set(), 0
    for n in lengths[:-1]:
        pos += n
        out.add(pos)
    return out


def _tokens(text: str) -> list[str]:
    tokens = [t for t in _SEPARATORS.split(str(text).upper()) if t]
    return ["".join(c for c in t if c.isascii() and c.isalnum()) for t in tokens if
            any(c.isascii() and c.isalnum() for c in t)]


def _fit(chars: str, fmt: str, country: str,
         weights: list[float] | None) -> tuple[str, int, float] | None:
    """chars (already the format's length) forced into the slots; None when impossible."""
    slots = _slots(fmt)
    out, fixes, cost = [], 0, 0.0
    banned = _NO_LETTERS.get(country, "")
    for i, (c, s) in enumerate(zip(chars, slots, strict=True)):
        w = weights[i] if weights else 1.0
        if s == "S":
            if c not in "EH":
                return None
            out.append(c)
            continue
        if s == "D":
            if c.isdigit():
                out.append(c)
                continue
            fixed = TO_DIGIT.get(c)
        else:
            if c.isalpha():
                out.append(c)
                if c in banned:
                    cost += 0.6
                continue
            fixed = TO_LETTER.get(c)
            if fixed and fixed in banned:
                cost += 0.6
        if fixed is None:
            return None
        out.append(fixed)
        fixes += 1
        cost += w
        if fixes > MAX_FIXES:
            return None
    return "".join(out), fixes, cost


FOREIGN_COST = 1.0


def fit_plate(text: str, countries: tuple[str, ...] | None = None,
              char_confidences: list[float] | None = None,
              home: str | None = None) -> PlateMatch | None:
    """The best reading of OCR text as a plate of one of the countries (all known ones
    when None). char_confidences (one per letter/digit of the text, 0..1) make a fix of a
    confident character cost more than one of a doubtful one. `home` (the camera's
    country): another country's format costs FOREIGN_COST more."""
    tokens = _tokens(text)
    if not tokens:
        return None
    home = home.upper() if home else None
    best = _fit_tokens(tokens, countries, char_confidences, 0.0, home)
    # the EU band's country letters, read as a token of their own, are no part of the plate
    # (or they are: Berlin's "B-..." and Düsseldorf's "D-..." start with one)
    if len(tokens) > 1 and tokens[0] in EU_BAND_CODES:
        drop = len(tokens[0])
        confs = char_confidences[drop:] if char_confidences else None
        other = _fit_tokens(tokens[1:], countries, confs, 0.5, home)
        if other is not None and (best is None or other.cost < best.cost):
            best = other
    return best


def _fit_tokens(tokens: list[str], countries: tuple[str, ...] | None,
                char_confidences: list[float] | None, base: float,
                home: str | None = None) -> PlateMatch | None:
    chars = "".join(tokens)
    bounds = _boundaries([len(t) for t in tokens])
    if char_confidences is not None and len(char_confidences) != len(chars):
        char_confidences = None
    best: PlateMatch | None = None
    for country in countries or COUNTRIES:
        foreign = FOREIGN_COST if home and country.upper() != home else 0.0
        for rank, fmt in enumerate(FORMATS.get(country.upper(), ())):
            n = len(_slots(fmt))
            if n > len(chars) or len(chars) - n > 3:
                continue
            fmt_bounds = _boundaries(_groups(fmt))
            for start in range(len(chars) - n + 1):
                window = chars[start:start + n]
                if not any(c.isdigit() for c in window):  # every plate shows a digit
                    continue
                weights = None
                if char_confidences:
                    weights = [0.3 + c for c in char_confidences[start:start + n]]
                fitted = _fit(window, fmt, country.upper(), weights)
                if fitted is None:
                    continue
                plate, fixes, cost = fitted
                cost += 1.2 * (len(chars) - n)  # characters left out
                if len(tokens) > 1:  # the read's own grouping agrees with the format's?
                    shifted = {b - start for b in bounds if start < b < start + n}
                    cost += 0.35 * len(shifted ^ fmt_bounds)
                cost += 0.01 * rank + base + foreign
                if best is None or cost < best.cost:
                    best = PlateMatch(_render(fmt, plate), plate, country.upper(), fixes,
                                      round(cost, 3))
    return best


def format_slots(fmt: str) -> str:
    """ "LL-DDD-L" -> "LLDDDL": the character classes a format's positions take."""
    return _slots(fmt)


def format_plate(fmt: str, chars: str) -> str:
    """Characters (as many as the format's slots) in the format's printed grouping."""
    return _render(fmt, chars)


def plate_like(text: str) -> bool:
    """Cheap test before fitting: 3..11 letters/digits (Munich has "M-F 4"), a digit."""
    chars = "".join(_tokens(text))
    return 3 <= len(chars) <= 11 and any(c.isdigit() for c in chars)
