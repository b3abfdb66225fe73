"""The dashboard served as a process of its own, as ``make dashboard`` serves it, on a free local port.

The browser tests (``tests/test_app_browser.py``) and the documentation's screenshots
(``docs/make_images.py``) both start it this way: ``solara run sim.dashboard.page`` in its own
process group, waited for until its page answers, and stopped with the group afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = ["START_TIMEOUT_S", "serve"]

START_TIMEOUT_S = 90  # the first page of a cold start (imports, numba kernels loaded) on a loaded 2-core machine


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    cwd: Path, log_path: Path, env: Mapping[str, str], timeout_s: float = START_TIMEOUT_S
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Serve the dashboard from ``cwd`` on 127.0.0.1; yields its URL and its process, stops it afterwards.

    Args:
        cwd: The directory it runs in (its default ``outputs/``).
        log_path: The file its output goes to (its tail is in the error if it does not start).
        env: Its environment (Solara's usage telemetry is switched off on top of it).
        timeout_s: How long its first page may take.

    Raises:
        RuntimeError: If it exits, or does not answer within ``timeout_s``.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    solara = str(Path(sys.executable).parent / "solara")
    command = [solara, "run", "sim.dashboard.page", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-open", "--production", "--no-check-version"]
    environment = {**env, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    with log_path.open("w") as log:
        proc = subprocess.Popen(  # noqa: S603 - this interpreter's own solara
            command, cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"solara exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"solara did not answer on {url} within {timeout_s:g} s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group (start_new_session)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
