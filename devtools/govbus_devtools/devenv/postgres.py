"""A local PostgreSQL cluster in its own data dir, on its own port."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg

from govbus.config import LocalRuntimeSettings
from govbus.errors import ServiceUnavailableError
from govbus.probes import pg_ready
from govbus_devtools.devenv.packages import install_packages, postgres_bin_dir
from govbus_devtools.devenv.process import Managed, require_free_port, wait_until

_SUPERUSER = "govbus"
_DATABASE = "govbus"


class LocalPostgres:
    def __init__(self, settings: LocalRuntimeSettings) -> None:
        self.settings = settings
        self.process = Managed("postgres", settings.state_dir)
        # PostgreSQL refuses to run as root: then it runs as 'postgres', whose data dir
        # must lie where that user can reach it.
        self.as_root = os.geteuid() == 0
        self.data = settings.pg_data_dir if self.as_root else settings.state_dir / "pg"

    @property
    def dsn(self) -> str:
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.settings.pg_port}/{_DATABASE}"

    def up(self) -> str:
        if self.process.pid() is not None and self.ready(_DATABASE):
            return f"postgresql already running at 127.0.0.1:{self.settings.pg_port}"
        bindir = postgres_bin_dir()
        if bindir is None:
            install_packages(["postgresql"], reason="PostgreSQL server not installed")
            bindir = postgres_bin_dir()
        if bindir is None:
            raise ServiceUnavailableError(
                "PostgreSQL server binaries not found after installing 'postgresql'"
            )
        require_free_port(self.settings.pg_port, "PostgreSQL")
        user = "postgres" if self.as_root else None
        self._init(Path(bindir), user)
        self.process.start(
            [
                f"{bindir}/postgres",
                "-D",
                str(self.data),
                "-p",
                str(self.settings.pg_port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data}",
                "-c",
                "fsync=on",
                "-c",
                "max_connections=200",
            ],
            user=user,
        )
        wait_until(
            lambda: self.ready("postgres"), timeout_s=60, what="PostgreSQL", managed=self.process
        )
        self._create_database()
        return f"postgresql started at 127.0.0.1:{self.settings.pg_port}"

    def down(self) -> bool:
        # SIGINT is PostgreSQL's 'fast' shutdown: it does not wait for clients to leave.
        return self.process.stop(timeout_s=30, sig=signal.SIGINT)

    def ready(self, database: str) -> bool:
        return pg_ready(self._dsn_for(database))

    def _dsn_for(self, database: str) -> str:
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.settings.pg_port}/{database}"

    def _init(self, bindir: Path, user: str | None) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        if user is not None:
            shutil.chown(self.data, user=user, group=user)
        argv = [
            str(bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            _SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
        if user is not None:
            argv = ["runuser", "-u", user, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceUnavailableError(f"initdb failed: {result.stderr.strip()[-800:]}")

    def _create_database(self) -> None:
        with psycopg.connect(self._dsn_for("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (_DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {_DATABASE}")
