"""A TCP proxy whose connections can be cut the way a mobile network cuts them.

`cut()` drops every client-side connection at once (an RST, no WebSocket close frame). With
`half_open=True` the server side is left open and silent, like a phone that vanished in a
tunnel: the server learns nothing until it tries to use that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator

from tests.waiting import HANG_S


class CutProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._half_open: list[asyncio.StreamWriter] = []  # server sides left open by a cut
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.cut()
        for upstream in self._half_open:
            upstream.transport.abort()
        self._half_open.clear()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def cut(self, *, half_open: bool = False) -> None:
        """Abort every client connection now; the server side too unless `half_open`."""
        for client, upstream in self._pairs:
            if client.transport.get_extra_info("socket") is not None:
                client.transport.abort()
            if half_open:
                self._half_open.append(upstream)
            else:
                upstream.transport.abort()
        self._pairs.clear()

    def cut_threadsafe(self, *, half_open: bool = False) -> None:
        assert self._loop is not None
        done = threading.Event()

        def run() -> None:
            self.cut(half_open=half_open)
            done.set()

        self._loop.call_soon_threadsafe(run)
        # The caller goes on as if the network were cut: it must be, whatever the machine's load.
        assert done.wait(HANG_S), "the proxy's loop did not run the cut"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        pair = (writer, up_writer)
        self._pairs.append(pair)
        await asyncio.gather(
            _pipe(reader, up_writer, pair, self._pairs), _pipe(up_reader, writer, pair, self._pairs)
        )


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    live: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]],
) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            if pair not in live:
                return  # cut: nothing more goes through, in either direction
            writer.write(data)
            await writer.drain()
    if pair in live:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


@contextlib.asynccontextmanager
async def cut_proxy(upstream_port: int) -> AsyncIterator[CutProxy]:
    """A CutProxy on the running event loop, closed afterwards."""
    proxy = CutProxy(upstream_port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@contextlib.contextmanager
def proxy_in_thread(upstream_port: int) -> Iterator[CutProxy]:
    """A CutProxy on its own event loop thread (for sync tests, e.g. Playwright), closed with
    everything it opened."""
    loop = asyncio.new_event_loop()
    proxy = CutProxy(upstream_port)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(HANG_S)
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(_shut(proxy), loop).result(HANG_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(HANG_S)
        loop.close()


async def _shut(proxy: CutProxy) -> None:
    await proxy.close()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0)  # let the aborted transports close their sockets
