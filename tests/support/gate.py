"""A TCP forwarder on loopback that lets a client send only so many bytes, then holds it: a
network that stalls part-way through an upload, at a byte the test chose. The answers come
back untouched. `cut()` drops the connections (the server sees the client go), `release()`
lets everything through from then on."""

import contextlib
import socket
import threading

from tests.support.tcp_proxy import BUFFER_SIZE, pipe


class GatedProxy:
    def __init__(self, target_port: int, budget: int | None):
        self.target = ("127.0.0.1", target_port)
        self.budget = budget  # bytes from clients forwarded in all, None: no limit
        self.forwarded = 0
        self.held = threading.Event()  # a client has bytes left to send past the budget
        self.opened = threading.Condition()
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept_forever, daemon=True).start()

    def accept_forever(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:  # closed
                return
            with self.opened:
                self.sockets += [client, upstream]
            threading.Thread(target=self.forward, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    def allowance(self) -> int:
        if self.budget is None:
            return BUFFER_SIZE
        return min(BUFFER_SIZE, self.budget - self.forwarded)

    def forward(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while True:
                with self.opened:
                    while (allowed := self.allowance()) <= 0 and client in self.sockets:
                        self.held.set()
                        self.opened.wait()
                if client not in self.sockets:  # cut meanwhile
                    return
                data = client.recv(allowed)
                if not data:
                    return
                upstream.sendall(data)
                with self.opened:
                    self.forwarded += len(data)
        except OSError:
            pass
        finally:
            for end in (client, upstream):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        """No limit from now on; `forwarded` counts again from 0."""
        with self.opened:
            self.budget, self.forwarded = None, 0
            self.held.clear()
            self.opened.notify_all()

    def cut(self) -> None:
        """Drop every open connection, as a network that went away would."""
        with self.opened:
            for end in self.sockets:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self.sockets.clear()
            self.opened.notify_all()

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
