"""Opening the services: what start-up made is kept out of the garbage collector's walks."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from voicewire.config import Settings
from voicewire.llm.scripted import ScriptedLLM
from voicewire.responder import llm_responder
from voicewire.server.services import open_services
from voicewire.tts.fake import FakeToneTTS


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process makes many apps: nothing stays frozen after the test


async def start(tmp_path: Path, *, freeze: bool) -> int:
    settings = Settings(llm="scripted", tts="fake", data_dir=tmp_path, gc_freeze=freeze)
    llm, tts = ScriptedLLM("Hi."), FakeToneTTS()
    async with open_services(settings, llm_responder, llm=llm, tts=tts):
        return gc.get_freeze_count()


async def test_what_start_up_loaded_is_frozen_out_of_the_garbage_collectors_walks(
    tmp_path: Path, unfrozen: None
) -> None:
    # A full collection walked every object the models, modules and ORM made (~150k with
    # Piper), holding the GIL for ~80 ms while every session's audio waited.
    assert await start(tmp_path, freeze=True) > 10_000


async def test_the_freeze_can_be_turned_off(tmp_path: Path, unfrozen: None) -> None:
    assert await start(tmp_path, freeze=False) == 0
