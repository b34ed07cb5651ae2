"""A loopback TCP proxy in front of a virtual board's REPL that cuts the
link after a given number of bytes from the PC: a USB cable pulled mid-copy."""
import socket
import threading


class CutProxy:
    def __init__(self, target, cut_at):
        self.target, self.cut_at = target, cut_at
        self.passed = 0       # bytes from the PC that reached the board
        self.cut = threading.Event()
        self._srv = socket.socket()
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(1)
        self.url = "socket://127.0.0.1:%d" % self._srv.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        pc, _ = self._srv.accept()
        board = socket.create_connection(self.target)
        for s in (pc, board):   # forward each small REPL write at once, as a wire would
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._back, args=(board, pc), daemon=True).start()
        try:
            while True:
                data = pc.recv(4096)
                if not data:
                    break
                room = self.cut_at - self.passed
                board.sendall(data[:room])
                self.passed += min(len(data), room)
                if len(data) >= room:
                    break
        except OSError:
            pass
        self.cut.set()
        for s in (pc, board, self._srv):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    @staticmethod
    def _back(board, pc):
        try:
            while True:
                data = board.recv(4096)
                if not data:
                    break
                pc.sendall(data)
        except OSError:
            pass
