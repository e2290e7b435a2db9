"""Tools: an app's typed Python functions, described to the model as JSON schema.

    @tool
    async def search_properties(city: str, bedrooms: int | None = None) -> list[dict]:
        \"\"\"Find flats for rent.\"\"\"

The arguments are described by the type hints (or one pydantic model parameter), and checked
with pydantic before the function runs; the first paragraph of the docstring is the tool's
description. A tool may be async (it runs on the event loop and must not block), sync (it runs
in a worker thread), or an async generator that yields `DataItem`s for the client and, last,
its result.
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, create_model

DEFAULT_BRIDGE = "Let me check."
# The names OpenAI-compatible chat APIs take; another refuses the whole request (every turn).
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    fn: Callable[..., Any]
    model: type[BaseModel]  # validates the arguments
    visible: bool = False  # the client is sent the result in `tool.result`
    timeout_s: float | None = None  # default: the toolbox's
    unpack: bool = True  # call fn(**fields); else fn(model_instance)

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-tool schema."""
        parameters = self.model.model_json_schema()
        parameters.pop("title", None)
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": parameters,
            },
        }

    def arguments(self, raw: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Validated arguments for `fn` (raises pydantic's ValidationError)."""
        value = self.model.model_validate(raw)
        if not self.unpack:
            return (value,), {}
        return (), {name: getattr(value, name) for name in type(value).model_fields}


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _describe(fn: Callable[..., Any]) -> tuple[type[BaseModel], bool]:
    hints = typing.get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())
    if len(params) == 1:
        hint = hints.get(params[0].name)
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            return hint, False
    fields: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args and **kwargs cannot be described")
        if p.name not in hints:
            raise TypeError(f"tool {fn.__name__}: parameter {p.name!r} has no type hint")
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (hints[p.name], default)
    model = create_model(f"{fn.__name__}_arguments", __base__=_Arguments, **fields)
    return model, True


def make_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    visible: bool = False,
    timeout_s: float | None = None,
) -> Tool:
    if inspect.isgeneratorfunction(fn):
        raise TypeError(f"tool {fn.__name__}: a generator tool must be async (async def ... yield)")
    name = name or fn.__name__
    if not _NAME.fullmatch(name):
        raise ValueError(f"tool name {name!r}: use 1 to 64 letters, digits, '_' or '-'")
    model, unpack = _describe(fn)
    doc = inspect.getdoc(fn) or ""
    return Tool(
        name=name,
        description=description if description is not None else doc.split("\n\n")[0].strip(),
        fn=fn,
        model=model,
        visible=visible,
        timeout_s=timeout_s,
        unpack=unpack,
    )


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    visible: bool = False,
    timeout_s: float | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    visible: bool = False,
    timeout_s: float | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a function a tool (`@tool` or `@tool(visible=True, timeout_s=5)`)."""

    def wrap(f: Callable[..., Any]) -> Tool:
        return make_tool(
            f, name=name, description=description, visible=visible, timeout_s=timeout_s
        )

    return wrap if fn is None else wrap(fn)


@dataclass
class Toolbox:
    """The tools a turn may call, and how a turn with tools behaves.

    `bridge` is said when the tools of a step take longer than `bridge_after_s` (never twice in
    a row; None: say nothing). A call taking longer than `timeout_s` is abandoned and the model
    told so. After `max_steps` rounds of calls the model is offered no tools and must answer.
    At most `max_calls_per_step` calls of one step run; the model is told the others were not.
    A result is cut to `max_result_chars` for the model (and the stored reply), with a note.
    A tool still running when its turn ends (a barge-in) or past its timeout is cancelled and
    given `cancel_grace_s` to stop; one that goes on regardless is abandoned (with a log line)
    and finishes in the background, so the turn goes on or ends without it.
    """

    tools: dict[str, Tool] = field(default_factory=dict)
    bridge: str | None = DEFAULT_BRIDGE
    bridge_after_s: float = 0.7
    timeout_s: float = 10.0
    max_steps: int = 4
    max_calls_per_step: int = 8
    max_result_chars: int = 16_000
    cancel_grace_s: float = 0.5

    def __post_init__(self) -> None:
        if self.max_calls_per_step < 1:
            raise ValueError(f"max_calls_per_step must be 1 or more, got {self.max_calls_per_step}")

    @classmethod
    def of(cls, tools: Iterable[Tool | Callable[..., Any]], **settings: Any) -> Toolbox:
        made = [t if isinstance(t, Tool) else make_tool(t) for t in tools]
        box = cls({t.name: t for t in made}, **settings)
        if len(box.tools) != len(made):
            raise ValueError("two tools have the same name")
        return box

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self.tools.values()]


def load_tools(spec: str) -> Toolbox:
    """`module:object` → the Toolbox it names (or one made of the list of tools it names)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected 'module:object', got {spec!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, Toolbox):
        return obj
    if isinstance(obj, Tool) or callable(obj):
        return Toolbox.of([obj])
    return Toolbox.of(obj)
