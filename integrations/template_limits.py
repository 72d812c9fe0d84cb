"""Budgets and guards of a template render: time, output size, growing operations.

Used by the sandbox in `templating.py`: a `Budget` per render (held in a
context variable, so each worker thread has its own), `_Range` (the only
global), and checks run before `*`, `**`, `%`, string methods and filters
that can grow text, so no single operation allocates past the budget.
"""
import dataclasses
import decimal
import functools
import re
import time
import contextvars

import jinja2

from integrations.errors import TemplateTooLarge

MAX_RANGE = 10_000
MAX_WIDTH = 10_000
MAX_INT_BITS = 100_000
CHECK_EVERY = 256
ALLOCATED_FACTOR = 5
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FORMAT_WIDTH = re.compile(r"\d{5,}|\*")


class _Deadline(BaseException):
    """Raised inside the rendering thread when its time is up (BaseException: nothing swallows it)."""


@dataclasses.dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    max_bytes: int = 20 * 1024 * 1024
    locale: str = "pt_BR"

    @classmethod
    def of(cls, settings):
        if settings is None:
            return cls()
        return cls(timeout_s=getattr(settings, "template_render_timeout_s", cls.timeout_s),
                   max_bytes=getattr(settings, "template_max_output_bytes", cls.max_bytes),
                   locale=getattr(settings, "template_locale", cls.locale))


@dataclasses.dataclass
class Budget:
    """What one render may still spend, and how its values are escaped."""

    limits: Limits
    fmt: str
    locale: str
    deadline: float
    thread_id: int
    doc: object = None
    #: {name: bytes} of the images stored with the template, for template_image()
    images: dict = None
    source: str = ""
    output: int = 0
    values: int = 0
    allocated: int = 0
    ticks: int = 0
    done: bool = False
    fired: bool = False

    def check_time(self):
        if time.monotonic() > self.deadline:
            raise _Deadline()

    def tick(self):
        self.ticks += 1
        if self.ticks % CHECK_EVERY == 0:
            self.check_time()

    def spend(self, field, size):
        setattr(self, field, getattr(self, field) + size)
        limit = self.limits.max_bytes * (ALLOCATED_FACTOR if field == "allocated" else 1)
        if getattr(self, field) > limit:
            raise TemplateTooLarge(message_tech=f"{field} passed {limit} bytes")


_current = contextvars.ContextVar("docg_template_budget", default=None)


def current():
    """The budget of the render in progress in this thread, or None."""
    return _current.get()


def _tick():
    budget = _current.get()
    if budget is not None:
        budget.tick()


def _limit():
    budget = _current.get()
    return budget.limits.max_bytes if budget else Limits.max_bytes


def check_estimate(size, what):
    """Refuse an operation before it runs when its result would pass the output budget."""
    if size > _limit():
        raise TemplateTooLarge("The template builds a value larger than allowed.",
                               f"{what} would make {size} characters (limit {_limit()})")


def check_size(value):
    """Refuse a value longer than the output budget; count what the render has built.

    NOTE: every string or list a call, operator or filter makes is added to
    the budget's `allocated` (lists at 8 bytes an item), capped at
    ALLOCATED_FACTOR times the output limit, so many medium values kept in
    `{% set %}` variables cannot add up to gigabytes either.
    """
    budget = _current.get()
    limit = _limit()
    if isinstance(value, (str, list, tuple, dict, bytes)):
        if len(value) > limit:
            raise TemplateTooLarge(message_tech=f"a value of {len(value)} items/characters exceeds {limit}")
        if budget is not None and len(value) > 64:
            budget.spend("allocated", len(value) * (1 if isinstance(value, (str, bytes)) else 8))
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateTooLarge(message_tech=f"an integer of {value.bit_length()} bits")
    return value


def check_width(width):
    if isinstance(width, int) and abs(width) > MAX_WIDTH:
        raise TemplateTooLarge(message_tech=f"width {width} exceeds {MAX_WIDTH}")


def check_format(text):
    if isinstance(text, str) and FORMAT_WIDTH.search(text):
        raise TemplateTooLarge("The template formats a value wider than allowed.",
                               f"format string {text[:80]!r} has a width over {MAX_WIDTH} or `*`")


def check_replace(text, old, new, count=-1):
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = (len(text) + 1) if old == "" else text.count(old)
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        check_estimate(len(text) + hits * max(len(new) - len(old), 0), "replace()")


def _length(value):
    return len(value) if isinstance(value, (str, bytes)) else len(str(value))


def check_join(separator, items):
    if isinstance(items, (list, tuple)):
        check_estimate(_length(separator) * max(len(items) - 1, 0) + sum(_length(i) for i in items), "join()")


def check_interpolation(template, values):
    """`fmt % values` and `fmt.format(*values)`: each field may repeat a value."""
    if isinstance(template, str):
        check_format(template)
        fields = template.count("%") + template.count("{")
        longest = max((_length(v) for v in values), default=0)
        check_estimate(len(template) + fields * longest, "formatting")


class _Range:
    """`range()` for templates: at most MAX_RANGE items, checking the deadline as it goes."""

    def __init__(self, *args):
        self._range = range(*args)
        if len(self._range) > MAX_RANGE:
            raise TemplateTooLarge("The template loops more times than allowed.",
                                   f"range of {len(self._range)} items exceeds {MAX_RANGE}")

    def __iter__(self):
        for i, item in enumerate(self._range):
            if i % CHECK_EVERY == 0:
                _tick()
                budget = _current.get()
                if budget is not None:
                    budget.check_time()
            yield item

    def __len__(self):
        return len(self._range)

    def __repr__(self):
        return repr(self._range)

    def __reversed__(self):
        return iter(reversed(self._range))

    def __contains__(self, item):
        return item in self._range


def _method_guard(obj, args, kwargs):
    """Check the string methods that can grow text before they run."""
    obj = getattr(obj, "__wrapped__", obj)
    owner, name = getattr(obj, "__self__", None), getattr(obj, "__name__", "")
    if isinstance(owner, int) and name == "to_bytes":
        check_estimate(args[0] if args and isinstance(args[0], int) else 1, "to_bytes()")
    if not isinstance(owner, str):
        return
    if name in ("format", "format_map"):
        check_interpolation(owner, [*args, *kwargs.values(), *(args[0].values() if name == "format_map" and args
                                                                and isinstance(args[0], dict) else ())])
    elif name == "join" and args:
        check_join(owner, args[0])
    elif name in ("center", "ljust", "rjust", "zfill") and args:
        check_width(args[0])
    elif name == "expandtabs":
        check_width((args[0] if args else kwargs.get("tabsize", 8)) * max(owner.count("\t"), 1))
    elif name == "replace" and len(args) >= 2:
        check_replace(owner, *args[:3])


def _binop_guard(operator, left, right):
    numbers = (int, float, decimal.Decimal)
    if operator == "**" and isinstance(left, int) and isinstance(right, numbers):
        if abs(left) > 1 and abs(left).bit_length() * abs(right) > MAX_INT_BITS:
            raise TemplateTooLarge(message_tech=f"a power of {abs(left).bit_length()} bits to {right!r:.20}")
    elif operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                budget = _current.get()
                limit = budget.limits.max_bytes if budget else Limits.max_bytes
                if len(seq) * times > limit:
                    raise TemplateTooLarge(message_tech=f"repeating {len(seq)} items {times} times")
    elif operator == "%" and isinstance(left, str):
        values = right if isinstance(right, tuple) else list(right.values()) if isinstance(right, dict) else [right]
        check_interpolation(left, values)
    elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        check_estimate(len(left) + len(right), "+")


def _guard_filter(name, function):
    @functools.wraps(function)
    def guarded_filter(*args, **kwargs):
        _tick()
        values = [a for a in args if not isinstance(a, (jinja2.Environment, jinja2.nodes.EvalContext,
                                                         jinja2.runtime.Context))]
        if name == "format" and values:
            check_interpolation(values[0], [*values[1:], *kwargs.values()])
        elif name == "join" and values:
            check_join(values[1] if len(values) > 1 else kwargs.get("d", ""), list(values[0])
                       if isinstance(values[0], (list, tuple)) else [])
        elif name in ("indent", "wordwrap", "truncate") and len(values) > 1:
            check_width(values[1] if not isinstance(values[1], str) else len(values[1]))
        elif name == "replace" and len(values) >= 3:
            check_replace(str(values[0]), str(values[1]), str(values[2]), values[3] if len(values) > 3 else -1)
        return check_size(function(*args, **kwargs))

    return guarded_filter
