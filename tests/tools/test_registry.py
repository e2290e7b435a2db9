"""Tools described from their type hints, and found by name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from voicewire.tools import Tool, Toolbox, tool
from voicewire.tools.registry import load_tools


@tool
def search(
    kind: Literal["flat", "house"],
    bedrooms: Annotated[int, Field(ge=0, description="how many")] = 1,
) -> list[str]:
    """Search the listings.

    More text that is not part of the description.
    """
    return []


class Query(BaseModel):
    city: str
    near: list[str] = []


@tool(name="find", visible=True, timeout_s=2)
async def find_by_query(query: Query) -> str:
    return query.city


def test_the_schema_comes_from_the_type_hints_and_the_docstring() -> None:
    assert search.schema() == {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the listings.",
            "parameters": {
                "additionalProperties": False,
                "type": "object",
                "properties": {
                    "kind": {"enum": ["flat", "house"], "title": "Kind", "type": "string"},
                    "bedrooms": {
                        "default": 1,
                        "description": "how many",
                        "minimum": 0,
                        "title": "Bedrooms",
                        "type": "integer",
                    },
                },
                "required": ["kind"],
            },
        },
    }
    assert search.arguments({"kind": "flat"}) == ((), {"kind": "flat", "bedrooms": 1})


def test_a_single_pydantic_model_parameter_is_the_schema_and_is_passed_whole() -> None:
    assert isinstance(find_by_query, Tool) and find_by_query.visible
    assert find_by_query.name == "find" and find_by_query.timeout_s == 2
    assert set(find_by_query.schema()["function"]["parameters"]["properties"]) == {"city", "near"}
    (query,), kwargs = find_by_query.arguments({"city": "Bern"})
    assert query == Query(city="Bern") and kwargs == {}


def test_a_parameter_without_a_type_hint_is_refused_when_the_tool_is_made() -> None:
    def untyped(city):  # type: ignore[no-untyped-def]
        return city

    with pytest.raises(TypeError, match="'city' has no type hint"):
        tool(untyped)


def test_a_sync_generator_is_refused_an_async_one_is_a_tool() -> None:
    def sync_gen(n: int) -> Iterator[int]:
        yield n

    with pytest.raises(TypeError, match="must be async"):
        tool(sync_gen)


def test_two_tools_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="same name"):
        Toolbox.of([search, tool(name="search")(lambda: None)])


def test_tools_are_loaded_by_module_and_name() -> None:
    box = load_tools("tests.tools.test_registry:TOOLS")
    assert sorted(box.tools) == ["find", "search"]
    assert list(load_tools("tests.tools.test_registry:search").tools) == ["search"]


TOOLS = [search, find_by_query]


def test_a_tool_name_chat_apis_refuse_is_refused_when_the_tool_is_made() -> None:
    # OpenAI-compatible APIs take ^[a-zA-Z0-9_-]{1,64}$ and refuse the whole request otherwise:
    # every turn would fail, not the registration.
    for name in ("look up", "", "x" * 65, "what?"):
        with pytest.raises(ValueError, match="name"):
            tool(name=name)(lambda: None)
    assert tool(name="look_up-2")(lambda: None).name == "look_up-2"
