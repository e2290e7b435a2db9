"""The Store on both backends: turn persistence, crash recovery, identity isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.storage.conftest import OpenStore, conversation
from voicewire.storage import IdentityConflict, NotFound, Store


async def test_a_user_message_is_committed_and_visible_from_a_second_store(
    open_store: OpenStore,
) -> None:
    writer, reader = await open_store(), await open_store()
    identity, conv = await conversation(writer)
    message_id = await writer.add_user_message(conv, "what time is it?", client_id="m1", turn_id=7)

    [message] = await reader.messages(identity, conv)
    assert (message.id, message.role, message.text, message.status) == (
        message_id,
        "user",
        "what time is it?",
        "complete",
    )
    assert (message.client_id, message.turn_id, message.data) == ("m1", 7, [])


async def test_a_reply_starts_streaming_with_empty_text(store: Store) -> None:
    identity, conv = await conversation(store)
    reply_id = await store.begin_reply(conv, turn_id=1, spoken=True)

    [reply] = await store.messages(identity, conv)
    assert (reply.id, reply.role, reply.text, reply.status, reply.spoken) == (
        reply_id,
        "assistant",
        "",
        "streaming",
        True,
    )


@pytest.mark.parametrize("status", ["complete", "interrupted", "failed"])
async def test_a_finished_reply_keeps_its_status_text_played_ms_and_data(
    open_store: OpenStore, status: Any
) -> None:
    store = await open_store()
    identity, conv = await conversation(store)
    reply_id = await store.begin_reply(conv, turn_id=3, spoken=True)
    data = [{"kind": "weather", "payload": {"city": "Oslo", "temps": [1.5, -2]}}]
    await store.finish_reply(
        reply_id, text="It is cold.", status=status, played_ms=1234, data=data, spoken=False
    )

    [reply] = await (await open_store()).messages(identity, conv)
    assert (reply.text, reply.status, reply.played_ms, reply.data) == (
        "It is cold.",
        status,
        1234,
        data,
    )
    assert (reply.spoken, reply.turn_id, reply.client_id) == (False, 3, None)


async def test_finishing_a_reply_without_data_or_spoken_keeps_them(store: Store) -> None:
    identity, conv = await conversation(store)
    reply_id = await store.begin_reply(conv, turn_id=1, spoken=True)
    await store.finish_reply(reply_id, text="ok", status="complete")

    [reply] = await store.messages(identity, conv)
    assert (reply.spoken, reply.data, reply.played_ms) == (True, [], None)


async def test_bad_finishes_are_refused(store: Store) -> None:
    _, conv = await conversation(store)
    user_id = await store.add_user_message(conv, "hi", client_id=None, turn_id=None)
    reply_id = await store.begin_reply(conv, turn_id=1, spoken=False)
    with pytest.raises(ValueError, match="status"):
        await store.finish_reply(reply_id, text="", status="streaming")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="played_ms"):
        await store.finish_reply(reply_id, text="", status="complete", played_ms=-1)
    with pytest.raises(ValueError, match="played_ms"):  # issue 15, defect 9: a 32-bit column
        await store.finish_reply(reply_id, text="", status="complete", played_ms=2**31)
    with pytest.raises(ValueError, match="data items"):
        await store.finish_reply(reply_id, text="", status="complete", data=[{"kind": 1}])
    with pytest.raises(NotFound):
        await store.finish_reply(user_id, text="x", status="complete")
    with pytest.raises(NotFound):
        await store.finish_reply("no-such-id", text="x", status="complete")


async def test_the_largest_played_ms_is_stored(store: Store) -> None:
    identity, conv = await conversation(store)
    reply_id = await store.begin_reply(conv, turn_id=1, spoken=True)
    # The largest the protocol accepts (TurnCancel.played_ms): PostgreSQL's INTEGER holds it.
    await store.finish_reply(reply_id, text="ok", status="interrupted", played_ms=2**31 - 1)
    [reply] = await store.messages(identity, conv)
    assert reply.played_ms == 2**31 - 1


async def test_messages_to_a_missing_conversation_are_refused(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.add_user_message("no-such-id", "hi", client_id=None, turn_id=None)
    with pytest.raises(NotFound):
        await store.begin_reply("no-such-id", turn_id=1, spoken=False)
    with pytest.raises(NotFound):
        await store.new_conversation("no-such-identity")


async def test_checkpoints_update_a_streaming_reply_only(store: Store) -> None:
    identity, conv = await conversation(store)
    reply_id = await store.begin_reply(conv, turn_id=1, spoken=False)
    assert await store.update_reply_text(reply_id, "Once upon")
    await store.finish_reply(reply_id, text="Once upon a time.", status="complete")
    assert not await store.update_reply_text(reply_id, "Once")

    [reply] = await store.messages(identity, conv)
    assert reply.text == "Once upon a time."


async def test_a_crash_mid_reply_leaves_the_user_message_and_a_failed_reply(
    open_store: OpenStore,
) -> None:
    crashed = await open_store()
    identity, conv = await conversation(crashed)
    await crashed.add_user_message(conv, "tell me a story", client_id="m1", turn_id=1)
    reply_id = await crashed.begin_reply(conv, turn_id=1, spoken=True)
    await crashed.update_reply_text(reply_id, "Once upon")
    await crashed.close()  # Never finished: as if the server died here.

    restarted = await open_store()
    user, reply = await restarted.messages(identity, conv)
    assert (user.text, user.status) == ("tell me a story", "complete")
    assert (reply.id, reply.text, reply.status) == (reply_id, "Once upon", "failed")


async def test_fail_dangling_counts_and_fails_only_streaming_replies(store: Store) -> None:
    identity, conv = await conversation(store)
    await store.add_user_message(conv, "hi", client_id=None, turn_id=1)
    done = await store.begin_reply(conv, turn_id=1, spoken=False)
    await store.finish_reply(done, text="hello", status="complete")
    await store.begin_reply(conv, turn_id=2, spoken=False)
    await store.begin_reply(conv, turn_id=3, spoken=False)

    assert await store.fail_dangling() == 2
    assert await store.fail_dangling() == 0
    statuses = [m.status for m in await store.messages(identity, conv)]
    assert statuses == ["complete", "complete", "failed", "failed"]


# -------------------------------------------------------------------------- identities


async def test_an_identity_cannot_list_or_read_another_identitys_conversations(
    store: Store,
) -> None:
    alice, alice_conv = await conversation(store, "alice")
    await store.add_user_message(alice_conv, "secret", client_id=None, turn_id=1)
    bob = await store.identity("guest", "guest-bob")

    assert await store.list_conversations(bob) == []
    assert [c.id for c in await store.list_conversations(alice)] == [alice_conv]
    with pytest.raises(NotFound) as other:
        await store.messages(bob, alice_conv)
    with pytest.raises(NotFound) as missing:
        await store.messages(bob, "no-such-conversation")
    # Same error either way, so a guess can't tell whether a conversation exists.
    assert str(other.value) == str(missing.value)
    assert await store.conversation_owner(alice_conv) == alice
    assert await store.conversation_owner("no-such-conversation") is None


async def test_an_identity_is_created_once_even_when_asked_concurrently(
    open_store: OpenStore,
) -> None:
    first, second = await open_store(), await open_store()
    ids = await asyncio.gather(
        *(s.identity("user", "carol") for s in [first, second] * 5),
    )
    assert len(set(ids)) == 1
    assert await first.identity("user", "carol") == ids[0]
    assert await first.identity("user", "dave") != ids[0]


async def test_a_subject_cannot_change_kind(store: Store) -> None:
    await store.identity("guest", "g-123")
    with pytest.raises(IdentityConflict):
        await store.identity("user", "g-123")
    with pytest.raises(ValueError, match="kind"):
        await store.identity("admin", "root")  # type: ignore[arg-type]


async def test_conversations_are_listed_most_recently_active_first(store: Store) -> None:
    identity = await store.identity("user", "erin")
    older = await store.new_conversation(identity, "older")
    newer = await store.new_conversation(identity)
    assert [c.id for c in await store.list_conversations(identity)] == [newer, older]

    await store.add_user_message(older, "back again", client_id=None, turn_id=1)
    listed = await store.list_conversations(identity)
    assert [(c.id, c.title) for c in listed] == [(older, "older"), (newer, None)]


# -------------------------------------------------------------------- reading and order


async def test_history_returns_the_last_messages_in_order_skipping_empty_texts(
    store: Store,
) -> None:
    _, conv = await conversation(store)
    for turn in range(1, 4):
        await store.add_user_message(conv, f"q{turn}", client_id=None, turn_id=turn)
        reply = await store.begin_reply(conv, turn_id=turn, spoken=False)
        text_ = "" if turn == 2 else f"a{turn}"
        await store.finish_reply(reply, text=text_, status="interrupted")
    await store.begin_reply(conv, turn_id=4, spoken=False)

    assert await store.history(conv, 3) == [("user", "q2"), ("user", "q3"), ("assistant", "a3")]
    assert await store.history(conv, 100) == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("user", "q3"),
        ("assistant", "a3"),
    ]
    assert await store.history(conv, 0) == []


async def test_twenty_concurrent_user_messages_are_all_stored(store: Store) -> None:
    identity, conv = await conversation(store)
    ids = await asyncio.gather(
        *(
            store.add_user_message(conv, f"message {n}", client_id=f"c{n}", turn_id=n)
            for n in range(20)
        )
    )
    stored = await store.messages(identity, conv)
    assert len(set(ids)) == 20
    assert {m.id for m in stored} == set(ids)
    assert {m.client_id for m in stored} == {f"c{n}" for n in range(20)}


async def test_timestamps_are_timezone_aware_utc(store: Store) -> None:
    identity, conv = await conversation(store)
    await store.add_user_message(conv, "hi", client_id=None, turn_id=None)
    [info] = await store.list_conversations(identity)
    [message] = await store.messages(identity, conv)
    for stamp in (info.created_at, info.updated_at, message.created_at, message.updated_at):
        parsed = datetime.fromisoformat(stamp)
        assert parsed.utcoffset() is not None
        assert parsed.utcoffset() == UTC.utcoffset(parsed)
    assert message.model_dump(mode="json")["created_at"] == message.created_at


async def test_fail_dangling_leaves_the_replies_of_live_server_processes_alone(
    store: Store,
) -> None:
    identity, conv = await conversation(store)
    await store.add_user_message(conv, "hi", client_id=None, turn_id=1)
    await store.begin_reply(conv, turn_id=1, spoken=False, node="live")
    await store.begin_reply(conv, turn_id=2, spoken=False, node="dead")
    await store.begin_reply(conv, turn_id=3, spoken=False)  # from before replies had a node

    async def alive(node: str) -> bool:
        return node == "live"

    assert await store.fail_dangling(alive) == 2
    statuses = [m.status for m in await store.messages(identity, conv)]
    assert statuses == ["complete", "streaming", "failed", "failed"]


async def test_fail_orphan_fails_only_that_turns_streaming_reply(store: Store) -> None:
    identity, conv = await conversation(store)
    await store.add_user_message(conv, "hi", client_id=None, turn_id=1)
    await store.begin_reply(conv, turn_id=1, spoken=True, node="dead")
    await store.begin_reply(conv, turn_id=2, spoken=True, node="dead")
    assert await store.fail_orphan(conv, 1, "Sure") == 1
    assert await store.fail_orphan(conv, 1, "Sure, again") == 0  # already failed
    statuses = [m.status for m in await store.messages(identity, conv)]
    assert statuses == ["complete", "failed", "streaming"]


async def test_an_orphaned_reply_keeps_the_text_the_client_was_sent(store: Store) -> None:
    # Issue 15, defect 7: the client had the text, the stored reply was failed and empty.
    identity, conv = await conversation(store)
    await store.add_user_message(conv, "paint it", client_id=None, turn_id=1)
    await store.begin_reply(conv, turn_id=1, spoken=True, node="dead")
    assert await store.fail_orphan(conv, 1, "Sure, … a bright kitchen") == 1
    _, reply = await store.messages(identity, conv)
    assert (reply.status, reply.text) == ("failed", "Sure, … a bright kitchen")


async def test_an_orphan_failed_without_text_keeps_its_checkpoint(store: Store) -> None:
    identity, conv = await conversation(store)
    reply_id = await store.begin_reply(conv, turn_id=1, spoken=True, node="dead")
    await store.update_reply_text(reply_id, "Once upon")
    assert await store.fail_orphan(conv, 1, "") == 1
    [reply] = await store.messages(identity, conv)
    assert (reply.status, reply.text) == ("failed", "Once upon")
