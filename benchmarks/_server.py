"""Run the fake Kore server in its own process, for the length of a ``with`` block.

The server is ``kore-cases serve --port 0 --json`` (``python -m kore_cases serve``): it
prints one JSON line with the connection details, then serves until SIGTERM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SERVE_COMMAND = [sys.executable, "-m", "kore_cases", "serve"]


def child_env() -> dict[str, str]:
    """The environment for child processes: ``benchmarks`` importable from the repo root."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass(frozen=True)
class ServerConfig:
    """What the server is asked for; ``None`` fields take the server's defaults."""

    cases: int = 1000
    latency_ms: float = 0.0
    rate: tuple[int, float] | None = None
    max_page_size: int | None = None
    cache_pages: bool = False
    seed: int = 0

    def argv(self) -> list[str]:
        args = ["--port", "0", "--json", "--cases", str(self.cases), "--seed", str(self.seed)]
        if self.latency_ms:
            args += ["--latency-ms", f"{self.latency_ms:g}"]
        if self.rate is not None:
            args += ["--rate", f"{self.rate[0]}/{self.rate[1]:g}"]
        if self.max_page_size is not None:
            args += ["--max-page-size", str(self.max_page_size)]
        if self.cache_pages:
            args.append("--cache-pages")
        return args


@contextmanager
def running_server(config: ServerConfig, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
    """Start the server, yield its JSON line as a dict, then SIGTERM it and wait."""
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            [*SERVE_COMMAND, *config.argv()],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=ROOT,
            env=child_env(),
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                proc.wait(timeout)
                errors.seek(0)
                raise RuntimeError(
                    f"the fake server exited with {proc.returncode}:\n{errors.read()}"
                )
            info: dict[str, Any] = json.loads(line)
            if not info["url"].startswith("http://127.0.0.1:"):
                raise RuntimeError(f"the fake server must listen on 127.0.0.1: {info['url']}")
            yield info
        finally:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
