"""Values that come from outside (a request, an outcome), checked against what the model contract,
the feature store and the prediction store can hold; a bad one is a BadRequest naming it."""

import math
import unicodedata

from loopline.config import ColumnKind
from loopline.errors import BadRequest

MAX_TEXT = 64  # characters in a string field; the longest real value (a tail number) has 6
INT64 = (-(2**63), 2**63 - 1)  # what Feast and the store hold


def shown(value) -> str:
    """A value as a message quotes it: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= MAX_TEXT + 2 else f"{text[:MAX_TEXT]}... ({len(text):,} characters)"


def check_value(value, kind: ColumnKind, nullable: bool, where: str) -> None:
    """`value` as a field of `kind` must be: strings non-empty, printable UTF-8 of at most
    MAX_TEXT characters; integers within int64; numbers finite; null only where `nullable`."""
    if value is None:
        if not nullable:
            raise BadRequest(f"{where} must not be null")
    elif kind == "string":
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{where} must be a non-empty string, got {shown(value)}")
        if len(value) > MAX_TEXT:
            raise BadRequest(f"{where} must be at most {MAX_TEXT} characters, got {len(value):,}")
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):  # control codes, lone surrogates
            raise BadRequest(f"{where} must be printable text, got {shown(value)}")
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest(f"{where} must be an integer, got {shown(value)}")
        if not INT64[0] <= value <= INT64[1]:
            raise BadRequest(f"{where} must be a 64-bit integer, got {shown(value)}")
    elif not (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)):
        raise BadRequest(f"{where} must be a finite number, got {shown(value)}")
