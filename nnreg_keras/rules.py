"""The rule each notebook parameter declares in its parameters cell, and the checks it gives.

A lesson's `parameters` cell holds one typed line per parameter; the end of its comment declares
what the parameter accepts, after the description, in `;`-separated parts:

    n_val: int = 500  # validation examples, to choose the strength; in [1, 100000]
    learning_rate: float = 0.01  # Adam step size; in (0, 1]
    rates: list[float] = [0.2, 0.5]  # dropout rates to choose from; each in [0, 1); at least 1
    seeds: list[int] = [0, 1, 2]  # one data draw and init each; each in [0, 2**31); at least 2
    moved_feature: str = "height"  # the feature whose units change; one of "height", "weight"
    data_path: str = ""  # a .npz, .csv or .mat file, or "" for the generated field; a file

`in [lo, hi]` bounds a number ([ ] closed, ( ) open; `inf` and `2**31` may be written); for a
list, `each in ...` bounds its items, `at least N` counts them and `distinct` forbids repeats;
`one of "a", "b"` lists a text's values; `a file` asks for "" or an existing file, of the kinds
the description names (`.npz`, `.csv`, `.mat`). The annotation gives the type (int, float, str,
bool, list[int], list[float], list[str]; without one, the default's type). The pipeline reads the
cell through papermill (`nnreg_keras.pipeline.profiles`) and checks and converts every value with
these rules before a kernel starts, so a notebook receives typed values and checks nothing itself.
A parameter that declares no rule is checked for its type only.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnreg_keras.exceptions import ParameterError

TYPES = ("int", "float", "str", "bool", "list[int]", "list[float]", "list[str]")
PATH_CHARACTERS = 4096  # longer than any path a system accepts
# The first bytes of each data file kind a `a file` rule may name (a .csv is UTF-8 text).
MAGIC = {".npz": (b"PK\x03\x04",), ".mat": (b"MATLAB", b"\x89HDF")}


class Rejected(Exception):
    """Raised by a check with what it accepts."""


class RuleError(ValueError):
    """A parameter line whose declared rule does not follow the grammar."""


_NUMBER = r"-?(?:inf|\d+\*\*\d+|\d+(?:\.\d*)?(?:e-?\d+)?|\.\d+(?:e-?\d+)?)"
_RANGE = re.compile(rf"(each )?in ([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])\Z")


def _number(text: str) -> float:
    if "**" in text:
        base, power = text.lstrip("-").split("**")
        value = int(base) ** int(power)
        return -value if text.startswith("-") else value
    return float(text)


def _shown(value: float) -> str:
    if math.isinf(value) or value != int(value) or abs(value) < 1e6:
        return f"{value:g}" if not float(value).is_integer() else f"{int(value)}"
    exponent = math.log2(value)
    return f"2**{int(exponent)}" if exponent.is_integer() else f"{int(value):,}"


@dataclass(frozen=True)
class Bounds:
    low: float
    high: float
    low_open: bool
    high_open: bool

    def __str__(self) -> str:
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{left}{_shown(self.low)}, {_shown(self.high)}{right}"

    def holds(self, v: float) -> bool:
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        return above and below


@dataclass(frozen=True)
class Rule:
    """One parameter of a notebook: its type, default, description and declared rule."""

    name: str
    type: str
    default: Any
    description: str = ""
    bounds: Bounds | None = None  # of a number, or of each item of a list
    at_least: int | None = None
    distinct: bool = False
    choices: tuple | None = None
    file: bool = False
    suffixes: tuple[str, ...] = ()

    @property
    def declared(self) -> bool:
        return bool(self.bounds or self.at_least or self.distinct or self.choices or self.file)

    @property
    def item(self) -> str:
        return self.type[5:-1] if self.type.startswith("list[") else self.type

    def accepted(self) -> str:
        """What the rule accepts, in words: 'an integer in [1, 100000]', ..."""
        kind = {"int": "an integer", "float": "a number", "str": "a text", "bool": "true or false"}
        if self.choices:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        if self.file:
            kinds = " or ".join(self.suffixes) if self.suffixes else "any kind"
            return f'"" or the path of an existing file ({kinds})'
        one = kind[self.item] + (f" in {self.bounds}" if self.bounds else "")
        if self.item == "float" and not self.bounds:
            one = "a finite number"
        if not self.type.startswith("list["):
            return one
        count = f"at least {self.at_least} " if self.at_least else ""
        items = "item" if self.at_least == 1 else "items"
        repeat = ", all different" if self.distinct else ""
        return f"a list of {count}{items}{repeat}, each {one}"

    def _scalar(self, v: Any, kind: str) -> Any:
        if kind == "str":
            if not isinstance(v, str):
                raise Rejected(self.accepted())
            return v
        if kind == "bool":
            if not isinstance(v, bool):
                raise Rejected(self.accepted())
            return v
        if isinstance(v, str):  # YAML reads 1e-3 as a text
            try:
                v = float(v)
            except ValueError:
                raise Rejected(self.accepted()) from None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
            raise Rejected(self.accepted())
        if kind == "int":
            if not math.isfinite(v) or v != int(v):
                raise Rejected(self.accepted())
            v = int(v)
        else:
            v = float(v)
        if self.bounds is not None:
            if not self.bounds.holds(v):
                raise Rejected(self.accepted())
        elif math.isinf(v):
            raise Rejected(self.accepted())
        return v

    def convert(self, value: Any) -> Any:
        """The value in the parameter's type (numbers from texts, floats from integers, paths made
        absolute); Rejected with what is accepted when it breaks the rule."""
        if self.type.startswith("list["):
            if not isinstance(value, list):
                raise Rejected(self.accepted())
            items = [self._scalar(v, self.item) for v in value]
            if self.at_least and len(items) < self.at_least:
                raise Rejected(self.accepted())
            if self.distinct and len(set(items)) != len(items):
                raise Rejected(self.accepted())
            return items
        value = self._scalar(value, self.type)
        if self.choices and value not in self.choices:
            raise Rejected(self.accepted())
        return _file(value, self) if self.file else value


def _file(value: str, rule: Rule) -> str:
    """ "" (no file) or an existing file of an accepted kind, made absolute from the current
    directory (the notebook runs in its own)."""
    if not value:
        return value
    accepted = rule.accepted()
    if len(value) > PATH_CHARACTERS or "\0" in value:
        raise Rejected(f"{accepted} (this is not a path: {len(value):,} characters)")
    try:
        path = Path(value).expanduser().absolute()
    except RuntimeError:  # ~name and no user of that name, or ~ and no home directory
        user = value[1:].split("/")[0]
        home = f"there is no user {user!r} for ~{user}" if user else "HOME is not set, for ~"
        raise Rejected(f"{accepted} ({value[:80]}: {home})") from None
    try:
        if path.is_dir():
            raise Rejected(f"{accepted} ({path} is a directory)")
        if not path.exists():
            raise Rejected(f"{accepted} ({path} does not exist)")
        if not path.is_file():
            raise Rejected(f"{accepted} ({path} is a FIFO, socket or device, not a file)")
        suffix = path.suffix.lower()
        if rule.suffixes and suffix not in rule.suffixes:
            raise Rejected(f"{accepted} ({path.name} is not {' or '.join(rule.suffixes)})")
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError as err:
        raise Rejected(f"{accepted} ({value[:80]}: {err.strerror or err})") from None
    if suffix in MAGIC and head and not head.startswith(MAGIC[suffix]):
        raise Rejected(f"{accepted} ({path.name} does not hold {suffix} data)")
    if suffix == ".csv":
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as err:
            if err.start < len(head) - 4:  # not a character cut at the end of the bytes read
                raise Rejected(f"{accepted} ({path.name} is not text)") from None
    return str(path)


def _part(rule: dict[str, Any], part: str) -> bool:
    """Read one `;`-separated part of a comment into `rule`; False when it is description."""
    found = _RANGE.match(part)
    if found:
        each, left, low, high, right = found.groups()
        rule["bounds"] = Bounds(_number(low), _number(high), left == "(", right == ")")
        rule["each"] = bool(each)
    elif re.fullmatch(r"at least \d+", part):
        rule["at_least"] = int(part.split()[-1])
    elif part == "distinct":
        rule["distinct"] = True
    elif part == "a file":
        rule["file"] = True
    elif part.startswith("one of "):
        try:
            choices = ast.literal_eval(f"({part[7:]},)")
        except (ValueError, SyntaxError):
            raise RuleError(f'"{part}": write one of "a", "b" (quoted texts)') from None
        if not all(isinstance(c, str) for c in choices):
            raise RuleError(f'"{part}": write one of "a", "b" (quoted texts)')
        rule["choices"] = choices
    elif re.match(r"(each )?in [\[(]", part):
        raise RuleError(f'"{part}": write in [low, high], with ( ) for an open end')
    else:
        return False
    return True


def parse(name: str, annotation: str | None, default: Any, comment: str) -> Rule:
    """The rule of one parameter line; RuleError saying what is wrong with its declaration."""
    if annotation in (None, "None"):
        kind = type(default).__name__
        if isinstance(default, list) and default:
            kind = f"list[{type(default[0]).__name__}]"
        annotation = kind if kind in TYPES else None
    annotation = annotation.replace(" ", "") if annotation else None
    if annotation not in TYPES:
        raise RuleError(f"type {annotation}: annotate it as one of {', '.join(TYPES)}")
    parts = [p.strip() for p in comment.split(";")]
    found: dict[str, Any] = {}
    while len(parts) > 1 and _part(found, parts[-1]):
        parts.pop()
    each = found.pop("each", None)
    listed = annotation.startswith("list[")
    if each is not None and each != listed:
        raise RuleError("a list's bounds read `each in [...]`, a number's `in [...]`")
    if (found.get("at_least") or found.get("distinct")) and not listed:
        raise RuleError("`at least` and `distinct` are for lists")
    if (found.get("choices") or found.get("file")) and annotation != "str":
        raise RuleError("`one of` and `a file` are for texts (str)")
    if found.get("bounds") and annotation in ("str", "bool", "list[str]"):
        raise RuleError("`in [...]` bounds numbers")
    suffixes = tuple(dict.fromkeys(re.findall(r"\.(?:npz|csv|mat)\b", parts[0].lower())))
    return Rule(name, annotation, default, "; ".join(parts), suffixes=suffixes, **found)


def check_values(
    notebook: str, rules: dict[str, Rule], values: dict[str, Any], parse_text: Any = None
) -> dict[str, Any]:
    """Every parameter of `rules` with its value from `values` (or its default), converted;
    ParameterError naming the notebook and, one line each, every bad or unknown parameter with
    what it accepts. `parse_text` reads a value given as command-line text in its rule's type."""
    converted, problems = {}, []
    for name in values:
        if name not in rules:
            problems.append(
                f"parameter {name!r} is unknown; accepted names: {', '.join(rules) or 'none'}"
            )
    for name, rule in rules.items():
        value = values.get(name, rule.default)
        try:
            if parse_text is not None:
                value = parse_text(name, value, rule)
            converted[name] = rule.convert(value)
        except Rejected as err:
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
            problems.append(f"parameter {name!r} = {shown}: accepted {err}")
    if problems:
        raise ParameterError(f"notebook {notebook}: " + "\n  ".join(problems))
    return converted


_RATE = Bounds(0, 1, False, True)


def check_rate(rate: Any, name: str = "rate") -> float:
    """A dropout rate as a float (the share of units dropped, Keras's `rate` = 1 − keep_prob);
    ParameterError naming `name` unless it is a number in [0, 1). The library's layers use it."""
    number = not isinstance(rate, (bool, str))
    value = float(rate) if number and hasattr(rate, "__float__") else math.nan
    if not _RATE.holds(value):
        raise ParameterError(
            f"{name} must be a dropout rate in [0, 1) (the share of units dropped; "
            f"1 would drop everything), got {rate!r}"
        )
    return value
