"""The project's own errors: the one place foreign failures are translated.

Every expected failure ends up as one of these, with a one-line message that names the thing
and, where we know it, the fix. The CLI prints ``str(error)`` and exits with ``exit_code``;
a traceback reaching the user is a bug.

    PreflightError                     exit 2: preflight could not run
    ├── ConfigError                    bad input: flags, files, kubeconfig, certificates
    │   └── NoChecksError              nothing would be checked (never a silent pass)
    └── ClusterError                   a request to the API server failed
        ├── UnreachableError           DNS, refused, no answer, TLS; ``step`` names which
        ├── UnauthorizedError          401: the credential was rejected
        ├── ForbiddenError             403: authenticated, not allowed
        ├── NotFoundError              404
        ├── ConflictError              409 (``AlreadyExists`` is ``reason == "AlreadyExists"``)
        └── ServerError                429 and 5xx (transient: the only ones we retry)

Where foreign errors are translated: ``_http`` (http.client, ssl and socket errors of HTTP requests,
and HTTP statuses) and ``_probe`` (the raw handshake, which alone knows whether TCP was accepted
before TLS went silent); parsers raise ``ConfigError`` themselves.

What this module deliberately does not do: it never carries a response body or a request
header into a message. API error bodies are reduced to the Status ``reason`` and a trimmed
``message``; both are written by the API server, never by the client, so they hold no secret.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

__all__ = [
    "EXIT_UNUSABLE",
    "ClusterError",
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "NoChecksError",
    "NotFoundError",
    "PreflightError",
    "ServerError",
    "UnauthorizedError",
    "UnreachableError",
    "describe_bug",
    "error_for_status",
    "not_kubernetes",
    "scrub_secrets",
]

# The documented exit code for "could not run": bad input, unreachable or refusing API.
EXIT_UNUSABLE = 2
_MAX_MESSAGE = 300


def _one_line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 3] + "..."


class PreflightError(Exception):
    """Base of everything preflight raises on purpose."""

    exit_code = EXIT_UNUSABLE

    def __init__(self, message: str, *, fix: str = "") -> None:
        self.message = _one_line(message)
        self.fix = _one_line(fix) if fix else ""
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


class ConfigError(PreflightError):
    """The input is wrong: a flag, a file, a kubeconfig field, a certificate."""

    def __init__(self, message: str, *, source: str = "", fix: str = "") -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message, fix=fix)


class NoChecksError(ConfigError):
    """The selection left nothing to check: reported as an error, never as a pass."""


class ClusterError(PreflightError):
    """A request to the API server failed. ``status`` is the HTTP status, 0 without one."""

    status = 0
    transient = False
    retry_after: float | None = None  # seconds, from a 429's or 5xx's Retry-After header
    kubernetes = True  # the answer was a Kubernetes Status object (False: something else answered)

    def __init__(self, message: str, *, status: int = 0, reason: str = "", fix: str = "") -> None:
        if status:
            self.status = status
        self.reason = reason
        super().__init__(message, fix=fix)


class UnreachableError(ClusterError):
    """No HTTP answer. ``step`` is one of proxy, dns, connect, timeout, tls, http."""

    def __init__(self, message: str, *, step: str, transient: bool, fix: str = "") -> None:
        self.step = step
        self.transient = transient
        super().__init__(message, fix=fix)


class UnauthorizedError(ClusterError):
    status = 401


class ForbiddenError(ClusterError):
    status = 403


class NotFoundError(ClusterError):
    status = 404


class ConflictError(ClusterError):
    status = 409


class ServerError(ClusterError):
    transient = True


def error_for_status(status: int, message: str, *, reason: str = "") -> ClusterError:
    """The ClusterError subclass for an HTTP error status."""
    kinds: dict[int, type[ClusterError]] = {
        401: UnauthorizedError,
        403: ForbiddenError,
        404: NotFoundError,
        409: ConflictError,
    }
    if status in kinds:
        return kinds[status](message, status=status, reason=reason)
    if status == 429 or status >= 500:
        return ServerError(message, status=status, reason=reason)
    return ClusterError(message, status=status, reason=reason)


def not_kubernetes(where: str, what: str) -> UnreachableError:
    """Something answered at ``where``, but not the Kubernetes API (a web server, a login page,
    a proxy or load balancer that answers every path itself). Not retried; never quoted beyond
    the status: the body is foreign."""
    return UnreachableError(f"{where} answered {what}: this is not the Kubernetes API", step="http", transient=False,
                            fix="check the server URL and port: a web server, login page or proxy answers there")


# Token-shaped text: a JWT; a run of 32+ base64(url) characters mixing digits, lower and upper
# case (a random token; paths and words do not mix all three that long); 32+ hex digits.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_RUN = re.compile(r"[A-Za-z0-9+/_~-]{32,}={0,2}")
_HEX = re.compile(r"\b[0-9a-fA-F]{32,}\b")
REDACTED = "[redacted]"


def _token_like(run: str) -> bool:
    return any(c.isdigit() for c in run) and any(c.islower() for c in run) and any(c.isupper() for c in run)


def scrub_secrets(text: str) -> str:
    """``text`` with token-shaped strings replaced by ``[redacted]``: for foreign text we quote
    (an exec plugin's stderr), which may print the token it was meant to hand over."""
    text = _JWT.sub(REDACTED, text)
    text = _RUN.sub(lambda m: REDACTED if _token_like(m.group()) else m.group(), text)
    return _HEX.sub(REDACTED, text)


def describe_bug(exc: BaseException) -> str:
    """An unexpected exception as its type and where it was raised, never its text: foreign
    messages quote their input (http.client quotes a rejected header, the token in it)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"
