"""A TCP proxy on loopback that can lose one reply.

Between a client and a real Redis server. Once armed with
:meth:`LossyProxy.lose_next_reply`, the next request it forwards reaches the
server and runs there, but the server's reply is thrown away and the
connection closed: what a client sees when Redis restarts between running a
command and sending its answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class LossyProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so that close() is noticed
        self.port: int = self._listener.getsockname()[1]
        self._armed = threading.Event()
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.lost = 0
        """Replies thrown away so far."""
        self._thread = threading.Thread(target=self._accept, name="lossy-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LossyProxy:
        self._thread.start()
        return self

    def lose_next_reply(self) -> None:
        self._armed.set()

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _close(sock)

    def __enter__(self) -> LossyProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, server]
            mute = threading.Event()
            threading.Thread(
                target=self._requests, args=(client, server, mute), daemon=True
            ).start()
            threading.Thread(target=self._replies, args=(server, client, mute), daemon=True).start()

    def _requests(
        self, client: socket.socket, server: socket.socket, mute: threading.Event
    ) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            losing = self._armed.is_set()
            if losing:
                mute.set()  # the reply pump drops whatever comes back now
            try:
                server.sendall(data)
            except OSError:
                break
            if losing:
                self._armed.clear()
                time.sleep(0.2)  # the server runs the command and answers
                self.lost += 1
                break
        _close(client)
        _close(server)

    def _replies(self, server: socket.socket, client: socket.socket, mute: threading.Event) -> None:
        while True:
            try:
                data = server.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if mute.is_set():
                continue
            try:
                client.sendall(data)
            except OSError:
                break
        _close(client)
        _close(server)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
