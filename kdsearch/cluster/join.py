"""Joining a running Ray cluster (`kdsearch run --address`): fail in seconds, in one line.

Left to itself, `ray.init(address=...)` retries for 20 s or more and then raises
"ConnectionError: Failed to connect to Ray cluster" whatever the cause. The two causes a user
meets are told apart here: nothing listens at the address, or the cluster uses Ray's token
authentication (on by default for clusters Ray 2.60 starts) and this process has no token.
Ray never sends its token to an explicitly given address unless RAY_AUTH_MODE=token says so,
so a token file alone is not enough.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

from kdsearch.errors import UserError

CONNECT_TIMEOUT_S = 3.0
# ray.init's attempts to reach the cluster's GCS, about one a second (Ray's own default is 20):
# a cluster that answers accepts the first; more only delay the error.
GCS_ATTEMPTS = "5"
AUTH_MARKERS = ("InvalidAuthToken", "Unauthenticated", "authentication token")


def host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of 'host:port' or 'ray://host:port'; None for 'auto' or an address without a port."""
    bare = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = bare.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str) -> None:
    """Refuses an address where nothing accepts a TCP connection, after a few seconds at most."""
    target = host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        why = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
        raise UserError(f"no Ray cluster answers there ({why}): start one with `ray start --head --port="
                        f"{target[1]}` or pass the address `ray start --head` printed", field="--address",
                        file=address) from None


@contextmanager
def quick_gcs_connect() -> Iterator[None]:
    """Fewer GCS connection attempts inside the block (Ray's RAY_gcs_server_port_wait_time_s,
    unless the user set it), so a refused join is reported in seconds, not after a minute.

    Ray's C++ client logs a warning line per refused attempt straight to file descriptor 2: what
    it writes is held back and shown only if the join succeeds (a failure gets one line instead).
    """
    key = "RAY_gcs_server_port_wait_time_s"
    before = os.environ.get(key)
    if before is None:
        os.environ[key] = GCS_ATTEMPTS
    sys.stderr.flush()
    saved_fd = os.dup(2)
    held = tempfile.TemporaryFile()
    os.dup2(held.fileno(), 2)
    failed = True
    try:
        yield
        failed = False
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        if not failed:
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
        held.close()
        if before is None:
            os.environ.pop(key, None)


def explain_join_failure(exc: BaseException, address: str) -> UserError | None:
    """One line for a failed join whose cause the user can fix; None for anything else."""
    text = _chain_text(exc)
    if type(exc).__name__ == "AuthenticationError" or any(m in text for m in AUTH_MARKERS):
        mode = os.environ.get("RAY_AUTH_MODE")
        fix = ("the token this process sent was refused: use the head node's token" if mode == "token" else
               "set RAY_AUTH_MODE=token")
        return UserError(f"the cluster requires Ray's authentication token and this process has none it accepts: "
                         f"{fix} (from the head's ~/.ray/auth_token, RAY_AUTH_TOKEN_PATH=FILE or "
                         f"RAY_AUTH_TOKEN; `ray get-auth-token` on the head prints it)", field="--address",
                         file=address)
    if isinstance(exc, ConnectionError):
        return UserError("could not join the Ray cluster there (is it the address `ray start --head` printed, "
                         "and the same Ray version?)", field="--address", file=address)
    return None


def _chain_text(exc: BaseException | None) -> str:
    parts = []
    while exc is not None and len(parts) < 10:
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)
