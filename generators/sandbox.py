"""User-typed Jinja (filters, partition values, `sql` tasks), rendered with limits that always hold.

Jinja's sandbox stops attribute tricks but not work: nested `range(100000)` loops, `'x' * 10**8`,
doubling a string in a macro or a `namespace`, or `'x'|center(10**9)` would hang the UI (which
compiles as you type) or exhaust memory. Here a render gets:

* a time limit and a step limit (template lines executed, so loop iterations count), checked by a
  trace function on the template's own frames;
* a call-depth limit (recursive macros);
* an output-size limit, on the streamed output and on every value that can grow (operators, `~`,
  method calls of strings and lists, filters, every `{{ }}` value);
* no template loader (nothing to include or import) and no globals beyond `range`, `dict`, `namespace`.

Any failure — Jinja's own errors, these limits, and Python's OverflowError, MemoryError,
RecursionError, TypeError... — becomes one `TemplateProblem` with a message for the user.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from types import FrameType
from typing import Any

from jinja2 import Environment, StrictUndefined, Template, TemplateError
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat, EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_SECONDS = 1.0  # wall time of one render
MAX_STEPS = 200_000  # template lines executed
MAX_DEPTH = 40  # nested macro calls
MAX_CHARS = 1_000_000  # output, and any single value built on the way
MAX_SOURCE_CHARS = 200_000  # template text
TEMPLATE_FILE = "<template>"
_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)|\{[^{}]*:[^{}]*?(\d{4,})[^{}]*\}")


class TemplateProblem(Exception):
    """A user template that cannot be rendered: why, in words for the person who wrote it."""


class _Limit(Exception):
    """Raised inside a render when a limit is hit (turned into a TemplateProblem)."""


# --- sizes -------------------------------------------------------------------------------------


_TEXT = (str, bytes, bytearray)
_SEQUENCES = (list, tuple, set, frozenset)


def size_of(value: Any, budget: int = MAX_CHARS) -> int:
    """Characters `value` would take as text, counted up to `budget` (shared references counted each time,
    as printing them would): a nested list that prints as a terabyte is found within `budget` steps."""
    total = 0
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack and total <= budget:
        item = pop()
        if isinstance(item, _SEQUENCES):
            total += 2 * len(item) + 2  # brackets and separators
            extend(item)
        elif isinstance(item, _TEXT):
            total += len(item)
        elif isinstance(item, Mapping):
            total += 4 * len(item) + 2
            extend(item.keys())
            extend(item.values())
        elif isinstance(item, Namespace):
            extend(object.__getattribute__(item, "_Namespace__attrs").values())
        elif isinstance(item, range):
            total += len(item) * 8
        else:
            total += 8
    return total


def _check_size(value: Any, what: str) -> Any:
    if size_of(value) > MAX_CHARS:
        raise _Limit(f"{what} would be larger than {MAX_CHARS:,} characters")
    return value


def _check_count(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_CHARS:
        raise _Limit(f"{what} {value} is larger than {MAX_CHARS:,}")


def _check_format(text: str, args: Iterable[Any]) -> None:
    """`'%999999999s' % x`, `'{:>999999999}'.format(x)`: a width is an allocation."""
    for match in _FORMAT_WIDTH.finditer(text):
        width = match.group(1) or match.group(2)
        if width == "*" or (width and int(width) > MAX_CHARS):
            raise _Limit(f"a format width in {text[:40]!r} is larger than {MAX_CHARS:,}")
    _check_size(list(args), "the formatted values")


# --- the environment ---------------------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """`a ~ b` joins through the environment, so concatenation is size-checked like every operator."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+", "//", "/"})

    def __init__(self, filters: Mapping[str, Callable[..., Any]] | None = None) -> None:
        super().__init__(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                         keep_trailing_newline=False, autoescape=False, finalize=self._finalize, cache_size=0)
        self.globals = {k: v for k, v in self.globals.items() if k in ("range", "dict", "namespace")}
        self.filters = {name: _bounded_filter(name, f) for name, f in {**self.filters, **(filters or {})}.items()}
        self._templates: dict[str, Template] = {}

    def compiled(self, text: str) -> Template:
        template = self._templates.get(text)
        if template is None:
            if len(self._templates) > 512:
                self._templates.clear()
            template = self._templates[text] = self.from_string(text)
        return template

    @staticmethod
    def _finalize(value: Any) -> Any:
        return _check_size(value, "an output value")

    @staticmethod
    def bounded_join(values: Iterable[Any]) -> str:
        parts = list(values)
        _check_size(parts, "a '~' concatenation")
        return "".join(str(p) for p in parts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int | float) and isinstance(right, int | float) \
                and abs(right) * max(abs(int(left)).bit_length(), 1) > 4096 and abs(left) > 1:
            raise _Limit(f"{left} ** {right} is too large a number")
        elif operator == "*":
            for sized, count in ((left, right), (right, left)):
                if isinstance(sized, str | list | tuple) and isinstance(count, int) and \
                        len(sized) * max(count, 0) > MAX_CHARS:
                    raise _Limit(f"repeating {len(sized)} item(s) {count:,} times would exceed "
                                 f"{MAX_CHARS:,} characters")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > 4096:
                raise _Limit("the product is too large a number")
        elif operator == "%" and isinstance(left, str):
            _check_format(left, right if isinstance(right, tuple) else (right,))
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple) \
                and len(left) + len(right) > MAX_CHARS:
            raise _Limit(f"the sum would be larger than {MAX_CHARS:,} characters")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        target = getattr(__obj, "__wrapped__", __obj)
        name = getattr(target, "__name__", "a function")
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str | bytes | list | tuple):  # a width or count of a builtin's method is an allocation
            for value in (*args, *kwargs.values()):
                _check_count(value, f"an argument of {name}()")
        if isinstance(owner, str):
            if name in ("format", "format_map"):
                _check_format(owner, (*args, *kwargs.values()))
            elif name == "replace" and len(args) >= 2 and isinstance(args[1], str):
                _check_size_estimate(len(owner) + owner.count(str(args[0]) or " ") * len(args[1]), name)
            elif name == "join" and args:
                _check_size(list(args[0]) if not isinstance(args[0], str) else args[0], "the joined text")
            elif name == "expandtabs":
                _check_size_estimate(len(owner) + owner.count("\t") * int(args[0] if args else 8), name)
        result = super().call(__context, __obj, *args, **kwargs)
        return _check_size(result, f"the result of {name}()")


def _check_size_estimate(chars: int, name: str) -> None:
    if chars > MAX_CHARS:
        raise _Limit(f"{name}() would produce more than {MAX_CHARS:,} characters")


WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice"})


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose input and width arguments are checked first and whose result is checked after."""

    @wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not isinstance(a, Context | Environment | EvalContext)]
        for value in (*values, *kwargs.values()):
            _check_size(value, f"the input of the '{name}' filter")
        if name in WIDTH_FILTERS:
            for value in (*values[1:], *kwargs.values()):
                _check_count(value, f"an argument of the '{name}' filter")
        if name == "format" and values and isinstance(values[0], str):
            _check_format(values[0], values[1:])
        if name == "replace" and len(values) >= 3 and isinstance(values[0], str):
            _check_size_estimate(len(values[0]) + values[0].count(str(values[1]) or " ") * len(str(values[2])), name)
        return _check_size(func(*args, **kwargs), f"the result of the '{name}' filter")

    return bounded


# --- rendering ---------------------------------------------------------------------------------


class _Watch:
    """A trace function on template frames: counts lines, measures time and depth."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_SECONDS
        self.steps = 0
        self.depth = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if event != "call" or frame.f_code.co_filename != TEMPLATE_FILE:
            return None
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Limit(f"macros call each other more than {MAX_DEPTH} levels deep")
        return self._local

    def _local(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if event == "line":
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise _Limit(f"the template runs more than {MAX_STEPS:,} steps (loops too large?)")
            if self.steps % 64 == 0 and time.monotonic() > self.deadline:
                raise _Limit(f"the template takes longer than {MAX_SECONDS:g} s")
        elif event == "return":
            self.depth -= 1
            _check_size(arg, "a macro's result")
        return self._local


def render_user(environment: BoundedEnvironment, text: str, variables: Mapping[str, Any]) -> str:
    """Render user-typed Jinja within the limits above; TemplateProblem on any failure."""
    if len(text) > MAX_SOURCE_CHARS:
        raise TemplateProblem(f"the text is {len(text):,} characters; at most {MAX_SOURCE_CHARS:,} are accepted")
    watch = _Watch()
    previous = sys.gettrace()
    try:
        template = environment.compiled(text)
        sys.settrace(watch)
        pieces: list[str] = []
        total = 0
        for piece in template.generate(dict(variables)):
            total += len(piece)
            if total > MAX_CHARS:
                raise _Limit(f"the output is larger than {MAX_CHARS:,} characters")
            pieces.append(piece)
            if time.monotonic() > watch.deadline:
                raise _Limit(f"the template takes longer than {MAX_SECONDS:g} s")
        return "".join(pieces)
    except _Limit as err:
        raise TemplateProblem(f"template stopped: {err}") from None
    except TemplateError as err:
        raise TemplateProblem(f"template error: {err}") from None
    except RecursionError:
        raise TemplateProblem("template error: it recurses too deeply") from None
    except MemoryError:
        raise TemplateProblem("template error: it needs more memory than a template may use") from None
    except OverflowError as err:
        raise TemplateProblem(f"template error: a number or range is too large ({err})") from None
    except Exception as err:  # anything else a template can raise (TypeError, ZeroDivisionError, ...)
        detail = str(err) or type(err).__name__
        raise TemplateProblem(f"template error: {detail}") from None
    finally:
        sys.settrace(previous)

