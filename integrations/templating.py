"""The one sandboxed Jinja environment every tenant template renders in.

Templates are data, never code. `environment()` is a single
`ImmutableSandboxedEnvironment` subclass shared by every renderer (local
DOCX, Word and PowerPoint fills, any future Jinja path):

- attributes are read only on plain data (str, numbers, lists, dicts, dates,
  the loop object) and never when they start with `_`; only methods of that
  data, macros and the bounded `range` may be called;
- mapping keys win over attributes, so `items`, `keys`, `values`, `get`,
  `update`, `count` in the data are the data, not dict methods;
- the only globals are a bounded `range` and `template_image(name)`, which
  reads the images the renderer put in the budget; filters are Jinja's
  harmless ones plus the locale filters of `template_filters` (no `safe`,
  no `center`);
- every expression's value goes through `finalize`, which escapes it for the
  output format of the render (`xml`: WordprocessingML / PresentationML
  text; `text`: left as it is);
- `*`, `**`, `%`, `+` and the string methods that grow text are checked
  before they run, and every render has a deadline and an output budget.

The budget, `range` and the guards of growing operations live in
`template_limits.py`. `guarded()` runs a render under a `Budget` and turns every failure into a
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
import ctypes
import datetime
import decimal
import functools
import html
import re
import threading
import time
from collections.abc import Mapping

import jinja2
from jinja2.compiler import CodeGenerator
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from integrations.errors import (TemplateInvalid, TemplateProblem, TemplateRenderError, TemplateTimeout,
                                 TemplateTooLarge, TemplateUnmappedTags, TemplateUnsafe)
from integrations.template_limits import (XML_INVALID, Budget, Limits, _binop_guard, _current, _Deadline,
                                          _guard_filter, _method_guard, _Range, _tick, check_estimate, check_size,
                                          current)  # noqa: F401 - current() is part of this module's API
#: the types whose attributes and methods a template may use
SAFE_TYPES = (str, int, float, bool, type(None), list, tuple, dict, datetime.date, datetime.time,
              datetime.timedelta, decimal.Decimal, LoopContext, Markup, jinja2.Undefined)
SAFE_FILTERS = ("abs", "attr", "batch", "capitalize", "default", "d", "dictsort", "filesizeformat", "first", "float",
                "format", "groupby", "indent", "int", "items", "join", "last", "length", "count", "list", "lower",
                "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr",
                "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique",
                "upper", "wordcount", "wordwrap")


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


class _Generator(CodeGenerator):
    """Compile `a ~ b ~ c` to a call the sandbox measures (Jinja inlines a join there)."""

    def visit_Concat(self, node, frame):
        self.write("environment.joined((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox policy; build it only through `environment()`."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _Generator

    def __init__(self):
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalize,
                         loader=jinja2.DictLoader({}), auto_reload=False, keep_trailing_newline=True)
        from integrations.template_filters import FILTERS, template_image

        self.globals.clear()
        self.globals["range"] = _Range
        self.globals["template_image"] = _guard_filter("template_image", template_image)
        self.filters = {name: _guard_filter(name, self.filters[name]) for name in SAFE_FILTERS}
        self.filters.update({name: _guard_filter(name, f) for name, f in FILTERS.items()})

    def unsafe_undefined(self, obj, attribute):
        """Fail at the unsafe access itself, not later when its placeholder is printed."""
        raise SecurityError(f"access to attribute {str(attribute)[:60]!r} of {type(obj).__name__!r} is not allowed")

    def is_safe_attribute(self, obj, attr, value):
        return isinstance(obj, SAFE_TYPES) and super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj):
        if isinstance(obj, (Macro, LoopContext)) or obj is _Range or obj is self.globals.get("template_image"):
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

    def joined(self, values):
        """The `~` operator: join the values' text once it is known to fit."""
        _tick()
        parts = [value if isinstance(value, str) else str(value) for value in values]
        check_estimate(sum(len(part) for part in parts), "~")
        return check_size("".join(parts))

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
def rendering(limits, fmt, *, doc=None, locale=None, images=None):
    """Run the body as one render: escaping format, deadline, output budget."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    budget = Budget(limits=limits, fmt=fmt, locale=locale or limits.locale,
                    deadline=time.monotonic() + limits.timeout_s, thread_id=threading.get_ident(), doc=doc,
                    images=images)
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


def guarded(render, *, limits=None, fmt="text", doc=None, locale=None, images=None,
            template_name="the template"):
    """Return `render()` run under a budget; raise only `template.*` errors."""
    limits = limits or Limits()
    budget_source = []
    try:
        with rendering(limits, fmt, doc=doc, locale=locale, images=images) as budget:
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
    return TemplateRenderError(f"{template_name} has a tag that could not be evaluated{where}: "
                               f"{type(ex).__name__}: {str(ex)[:160]}.", detail)
