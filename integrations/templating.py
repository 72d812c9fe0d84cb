"""The one sandboxed Jinja environment every tenant template renders in.

Templates are data, never code. `environment()` is a single
`ImmutableSandboxedEnvironment` subclass shared by every renderer (local
DOCX, Word and PowerPoint fills, any future Jinja path):

- attributes are read only on plain data (str, numbers, lists, dicts, dates,
  the loop object) and never when they start with `_`; only methods of that
  data, macros and the bounded `range` may be called;
- mapping keys win over attributes, so `items`, `keys`, `values`, `get`,
  `update`, `count` in the data are the data, not dict methods;
- the only global is a bounded `range`; filters are Jinja's harmless ones
  plus the locale filters of `template_filters` (no `safe`, no `center`);
- every expression's value goes through `finalize`, which escapes it for the
  output format of the render (`xml`: WordprocessingML / PresentationML
  text; `text`: left as it is);
- `*`, `**`, `%`, `+` and the string methods that grow text are checked
  before they run, and every render has a deadline and an output budget.

`guarded()` runs a render under a `Budget` and turns every failure into a
`template.*` error (never retried): `template.unsafe`, `template.timeout`,
`template.too_large`, `template.unmapped_tags`, `template.invalid`,
`template.render_error`.

NOTE: the deadline is enforced twice. Cooperatively: the sandbox hooks
(attribute, item, call, binop, range iteration, output) check the clock.
And by a watchdog timer that raises `_Deadline` inside the rendering thread
(CPython's `PyThreadState_SetAsyncExc`, the mechanism of Dramatiq's own
TimeLimit middleware) for loops that call no hook, such as nested `for`
over data lists. The worker thread survives and serves the next message.
"""
import contextlib
import contextvars
import ctypes
import dataclasses
import datetime
import decimal
import functools
import html
import re
import threading
import time
from collections.abc import Mapping

import jinja2
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from integrations.errors import (TemplateInvalid, TemplateProblem, TemplateRenderError, TemplateTimeout,
                                 TemplateTooLarge, TemplateUnmappedTags, TemplateUnsafe)

MAX_RANGE = 10_000
MAX_WIDTH = 10_000
MAX_INT_BITS = 100_000
CHECK_EVERY = 256
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FORMAT_WIDTH = re.compile(r"\d{5,}|\*")
#: the types whose attributes and methods a template may use
SAFE_TYPES = (str, int, float, bool, type(None), list, tuple, dict, datetime.date, datetime.time,
              datetime.timedelta, decimal.Decimal, LoopContext, Markup, jinja2.Undefined)
SAFE_FILTERS = ("abs", "attr", "batch", "capitalize", "default", "d", "dictsort", "filesizeformat", "first", "float",
                "format", "groupby", "indent", "int", "items", "join", "last", "length", "count", "list", "lower",
                "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr",
                "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique",
                "upper", "wordcount", "wordwrap")


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
    source: str = ""
    output: int = 0
    values: int = 0
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
        if getattr(self, field) > self.limits.max_bytes:
            raise TemplateTooLarge(message_tech=f"rendered output passed {self.limits.max_bytes} bytes")


_current = contextvars.ContextVar("docg_template_budget", default=None)


def current():
    """The budget of the render in progress in this thread, or None."""
    return _current.get()


def _tick():
    budget = _current.get()
    if budget is not None:
        budget.tick()


def check_size(value):
    """Refuse a value longer than the output budget (str, list, dict)."""
    budget = _current.get()
    limit = budget.limits.max_bytes if budget else Limits.max_bytes
    if isinstance(value, (str, list, tuple, dict, bytes)) and len(value) > limit:
        raise TemplateTooLarge(message_tech=f"a value of {len(value)} items/characters exceeds {limit}")
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
        if count is not None and count >= 0:
            hits = min(hits, count)
        budget = _current.get()
        limit = budget.limits.max_bytes if budget else Limits.max_bytes
        if len(text) + hits * max(len(new) - len(old), 0) > limit:
            raise TemplateTooLarge(message_tech=f"replace() would produce over {limit} characters")


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
    if not isinstance(owner, str):
        return
    if name in ("format", "format_map"):
        check_format(owner)
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
        check_format(left)


def _guard_filter(name, function):
    @functools.wraps(function)
    def guarded_filter(*args, **kwargs):
        _tick()
        values = [a for a in args if not isinstance(a, (jinja2.Environment, jinja2.nodes.EvalContext,
                                                         jinja2.runtime.Context))]
        if name == "format" and values:
            check_format(values[0])
        elif name in ("indent", "wordwrap", "truncate") and len(values) > 1:
            check_width(values[1] if not isinstance(values[1], str) else len(values[1]))
        elif name == "replace" and len(values) >= 3:
            check_replace(str(values[0]), str(values[1]), str(values[2]), values[3] if len(values) > 3 else -1)
        return check_size(function(*args, **kwargs))

    return guarded_filter


@jinja2.pass_context
def _finalize(context, value):
    """Turn one expression's value into output text, escaped for the render's format."""
    budget = _current.get()
    from integrations.template_filters import Raw

    if isinstance(value, Raw):
        return value.xml if budget is not None and budget.fmt == "xml" else value.text
    if callable(value) and not isinstance(value, jinja2.Undefined):
        raise TemplateRenderError("A tag prints a function instead of a value; call it or name a field.",
                                  f"printed a {type(value).__name__}")
    text = "" if value is None else str(value)
    if budget is not None:
        budget.tick()
        budget.spend("values", len(text))
        if budget.fmt == "xml":
            return xml_text(text)
    return text


def xml_text(text):
    """Escape a value for XML text; docxtpl turns its newlines and tabs into breaks and tabs.

    NOTE: braces become character references because docxtpl rewrites `{_{`
    and `%_}` in the rendered XML; characters XML 1.0 cannot hold are dropped.
    """
    text = XML_INVALID.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox policy; build it only through `environment()`."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self):
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize,
                         loader=jinja2.DictLoader({}), auto_reload=False, keep_trailing_newline=True)
        from integrations.template_filters import FILTERS

        self.globals.clear()
        self.globals["range"] = _Range
        self.filters = {name: _guard_filter(name, self.filters[name]) for name in SAFE_FILTERS}
        self.filters.update({name: _guard_filter(name, f) for name, f in FILTERS.items()})

    def unsafe_undefined(self, obj, attribute):
        """Fail at the unsafe access itself, not later when its placeholder is printed."""
        raise SecurityError(f"access to attribute {str(attribute)[:60]!r} of {type(obj).__name__!r} is not allowed")

    def is_safe_attribute(self, obj, attr, value):
        return isinstance(obj, SAFE_TYPES) and super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj):
        if isinstance(obj, (Macro, LoopContext)) or obj is _Range:
            return super().is_safe_callable(obj)
        owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)
        return (owner is not None and not isinstance(owner, type) and isinstance(owner, SAFE_TYPES)
                and super().is_safe_callable(obj))

    def getattr(self, obj, attribute):
        _tick()
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _tick()
        return super().getitem(obj, argument)

    def call(self, context, obj, /, *args, **kwargs):
        _tick()
        for value in (*args, *kwargs.values()):
            check_size(value)
        _method_guard(obj, args, kwargs)
        return check_size(super().call(context, obj, *args, **kwargs))

    def call_binop(self, context, operator, left, right):
        _tick()
        _binop_guard(operator, left, right)
        return check_size(super().call_binop(context, operator, left, right))

    def from_string(self, source, globals=None, template_class=None):  # noqa: A002 - Jinja's signature
        budget = _current.get()
        if budget is not None:
            budget.source = source
        return super().from_string(source, globals, template_class)

    def concat(self, chunks):
        """Join a template's output, stopping it once it is too large or too slow."""
        budget, parts = _current.get(), []
        for chunk in chunks:
            if budget is not None:
                budget.tick()
                budget.spend("output", len(chunk))
            parts.append(chunk)
        return "".join(parts)


@functools.cache
def environment():
    """The shared sandboxed environment (built once per process)."""
    return Sandbox()


def _interrupt(budget):
    if not budget.done:
        budget.fired = True
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(budget.thread_id), ctypes.py_object(_Deadline))


@contextlib.contextmanager
def rendering(limits, fmt, *, doc=None, locale=None):
    """Run the body as one render: escaping format, deadline, output budget."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    budget = Budget(limits=limits, fmt=fmt, locale=locale or limits.locale,
                    deadline=time.monotonic() + limits.timeout_s, thread_id=threading.get_ident(), doc=doc)
    token = _current.set(budget)
    watchdog = threading.Timer(limits.timeout_s + 0.1, _interrupt, args=(budget,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield budget
    finally:
        budget.done = True
        watchdog.cancel()
        watchdog.join()
        if budget.fired:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(budget.thread_id), None)
        _current.reset(token)


def guarded(render, *, limits=None, fmt="text", doc=None, locale=None, template_name="the template"):
    """Return `render()` run under a budget; raise only `template.*` errors."""
    limits = limits or Limits()
    budget_source = []
    try:
        with rendering(limits, fmt, doc=doc, locale=locale) as budget:
            budget_source = budget
            return render()
    except _Deadline:
        raise TemplateTimeout(f"{template_name} took longer than {limits.timeout_s:g} s to render; check its loops.",
                              f"render deadline of {limits.timeout_s} s passed") from None
    except Exception as ex:  # noqa: BLE001 - every failure of tenant code becomes a template error
        raise classify(ex, template_name, where=_where(ex, budget_source)) from ex


def _where(ex, budget):
    """The text (XML tags stripped) of the template line that failed, from the traceback."""
    source = getattr(budget, "source", "")
    lineno, tb = getattr(ex, "lineno", None), ex.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            lineno = tb.tb_lineno
        tb = tb.tb_next
    lines = source.splitlines()
    if not lineno or not 0 < lineno <= len(lines):
        return ""
    return " ".join(re.sub(r"<[^>]+>", "", lines[lineno - 1]).split())[:160]


def classify(ex, template_name="the template", where=""):
    """Map an exception raised while compiling or rendering to a TemplateProblem."""
    if isinstance(ex, TemplateProblem):
        return ex
    detail = f"{type(ex).__name__}: {str(ex)[:300]}" + (f" in “{where}”" if where else "")
    where = f" (in “{where}”)" if where else ""
    if isinstance(ex, SecurityError) or getattr(ex, "_undefined_exception", None) is SecurityError:
        return TemplateUnsafe(f"{template_name} tries to reach something outside its data "
                              f"(a hidden attribute or a function), which is not allowed{where}.", detail)
    if isinstance(ex, jinja2.UndefinedError):
        return TemplateUnmappedTags(f"{template_name} uses a tag that has no value{where}: {str(ex)[:200]}.",
                                    detail)
    if isinstance(ex, jinja2.TemplateSyntaxError):
        return TemplateInvalid(f"{template_name} has a tag that does not parse{where}: {ex.message}.", detail)
    if isinstance(ex, (MemoryError, OverflowError)):
        return TemplateTooLarge(f"{template_name} produces more than allowed; check its loops{where}.", detail)
    if isinstance(ex, RecursionError):
        return TemplateRenderError(f"{template_name} calls a macro too deeply{where}.", detail)
    return TemplateRenderError(f"A tag of {template_name} could not be evaluated{where}: "
                               f"{type(ex).__name__}: {str(ex)[:160]}.", detail)
