"""A loopback TCP proxy that a test can cut and restore: "AWS unreachable" without losing
moto's in-memory state (stopping moto itself would forget every resource).

`cut()` behaves at the TCP level like a stopped server: the listening socket is closed, so
new connections are refused (the kernel answers RST), and every open connection is
reset. `restore()` listens on the same port again.
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a dead peer's kernel would answer."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._up = threading.Event()
        self.connections = 0
        """Connections accepted so far (a test can see the operator used the proxy)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._up.set()
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        self._up.clear()
        if self._accepting is not None:
            self._accepting.join(5)
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _reset(sock)

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        try:
            while self._up.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self._pair(client)
        finally:
            listener.close()

    def _pair(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        server.settimeout(None)
        client.settimeout(None)
        with self._lock:
            if not self._up.is_set():
                _reset(client)
                _reset(server)
                return
            self._open |= {client, server}
            self.connections += 1
        ends = [0]
        for src, dst in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(src, dst, ends), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, ends: list[int]) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # pass the half-close on
        except OSError:
            pass
        with self._lock:
            ends[0] += 1
            last = ends[0] == 2
            if last:
                self._open -= {src, dst}
        if last:  # both directions ended: the later pump closes the pair
            src.close()
            dst.close()
