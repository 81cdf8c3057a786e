"""``safety-eval serve``: run results over HTTP, with bearer tokens and roles.

Roles file (YAML)::

    roles:
      evaluator: [view_results, export_anonymized_data]
      administrator: [all_evaluator_permissions, access_raw_data, manage_configurations]
    users:
      - {name: alice, role: evaluator, token_sha256: <64 hex>}
      - {name: root, role: administrator, token_sha256: <64 hex>}

Only SHA-256 hashes of tokens are stored (:func:`hash_token`); :func:`add_user` makes a
random token, stores its hash and returns the token, to be shown once.
``all_<role>_permissions`` includes another role's permissions. Permissions:

* ``view_results``: list runs, read reports and the anonymized view of any run file
* ``export_anonymized_data``: download a run's anonymized export as a ``tar.gz``
* ``access_raw_data``: read the raw run files (samples, transcripts, prompts, logs)
* ``manage_configurations``: reload the roles file (``POST /admin/reload``)

Endpoints (``Authorization: Bearer <token>`` on all but ``/healthz``)::

    GET /healthz                          "ok" (no token)
    GET /            GET /runs            the runs (JSON)
    GET /runs/<run>/                      the files this user may read (JSON)
    GET /runs/<run>/report.html           the HTML report: raw for access_raw_data,
                                          else rendered from the anonymized view
    GET /runs/<run>/anonymized/<file>     a file of the anonymized view
    GET /runs/<run>/anonymized.tar.gz     the anonymized export (export_anonymized_data)
    GET /runs/<run>/<file>                a raw file (access_raw_data; else 403 with a
                                          pointer to the anonymized one)
    POST /admin/reload                    re-read the roles file (manage_configurations)

A missing token is 401, a wrong one 403. Paths with ``..``, encoded dots, slashes or
backslashes, empty or hidden segments are refused (403) before touching the disk, and
a path that resolves outside its run (a symbolic link) is refused too; every denial is
logged with the user, client and path. The anonymized views are built on demand by
:func:`safety_eval.ops.anonymize.export_anonymized` into a cache folder outside the
results (rebuilt when the run changes). The server binds 127.0.0.1 by default; tokens
travel in clear over HTTP, so put a TLS proxy in front of any other address.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import mimetypes
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from safety_eval.errors import ConfigError, UserError
from safety_eval.ops.anonymize import (
    MARKER,
    anonymize_spec,
    anonymized_run_name,
    export_anonymized,
    folder_map,
)
from safety_eval.ops.crypto import Cipher, CryptoError, check_key, run_is_encrypted
from safety_eval.ops.maintenance import archive, looks_like_run
from safety_eval.ops.structured_logging import get_logger
from safety_eval.results.writers import atomic_write_text

__all__ = [
    "DEFAULT_ROLES",
    "PERMISSIONS",
    "AccessPolicy",
    "ResultsServer",
    "RolesFile",
    "UserEntry",
    "add_user",
    "hash_token",
    "load_policy",
    "main",
    "make_server",
    "new_token",
    "serve",
]

log = get_logger("safety_eval.serve")

PERMISSIONS: dict[str, str] = {
    "view_results": "list runs, read reports and anonymized run files",
    "export_anonymized_data": "download a run's anonymized export (tar.gz)",
    "access_raw_data": "read raw run files (samples, transcripts, prompts, logs)",
    "manage_configurations": "reload the roles file",
}
DEFAULT_ROLES: dict[str, list[str]] = {
    "evaluator": ["view_results", "export_anonymized_data"],
    "administrator": ["all_evaluator_permissions", "access_raw_data", "manage_configurations"],
}
_INCLUDE = re.compile(r"^all_(?P<role>[A-Za-z0-9_-]+?)_permissions$")
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]{0,200}$")


# -- tokens and roles -------------------------------------------------------------------


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored in the roles file for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    role: str
    token_sha256: str

    @field_validator("token_sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        value = value.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("token_sha256 must be 64 hex digits (see hash_token / add-user)")
        return value


class RolesFile(BaseModel):
    """The roles YAML."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ROLES))
    users: list[UserEntry] = Field(default_factory=list)


def _expand(roles: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
    resolved: dict[str, frozenset[str]] = {}

    def walk(role: str, trail: tuple[str, ...]) -> frozenset[str]:
        if role in resolved:
            return resolved[role]
        if role in trail:
            raise ConfigError(f"roles include each other in a loop: {' -> '.join(trail)}")
        if role not in roles:
            raise ConfigError(f"unknown role '{role}'")
        found: set[str] = set()
        for item in roles[role]:
            match = _INCLUDE.match(item)
            if match and match.group("role") in roles:
                found |= walk(match.group("role"), (*trail, role))
            elif item in PERMISSIONS:
                found.add(item)
            else:
                known = ", ".join([*PERMISSIONS, "all_<role>_permissions"])
                raise ConfigError(f"role '{role}': unknown permission '{item}' (known: {known})")
        resolved[role] = frozenset(found)
        return resolved[role]

    for name in roles:
        walk(name, ())
    return resolved


@dataclass(frozen=True)
class AccessPolicy:
    """Users and the permissions of their roles."""

    roles: dict[str, frozenset[str]]
    users: tuple[UserEntry, ...]

    @classmethod
    def from_file_model(cls, data: RolesFile) -> AccessPolicy:
        roles = _expand(data.roles)
        names: set[str] = set()
        hashes: set[str] = set()
        for user in data.users:
            if user.role not in roles:
                raise ConfigError(f"user '{user.name}': unknown role '{user.role}'")
            if user.name in names:
                raise ConfigError(f"user '{user.name}' is listed twice")
            if user.token_sha256 in hashes:
                raise ConfigError(f"user '{user.name}' shares a token with another user")
            names.add(user.name)
            hashes.add(user.token_sha256)
        return cls(roles, tuple(data.users))

    def authenticate(self, token: str) -> UserEntry | None:
        """The user holding ``token`` (every hash is compared, in constant time)."""
        digest = hash_token(token)
        found: UserEntry | None = None
        for user in self.users:
            if hmac.compare_digest(digest, user.token_sha256):
                found = user
        return found

    def permissions(self, user: UserEntry) -> frozenset[str]:
        return self.roles.get(user.role, frozenset())


def _read_roles(path: Path) -> RolesFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: roles file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read roles file ({exc})") from None
    try:
        return RolesFile.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def load_policy(path: Path) -> AccessPolicy:
    """Read and check a roles file (``ConfigError`` names the problem)."""
    try:
        return AccessPolicy.from_file_model(_read_roles(path))
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(str(path)) else f"{path}: {message}"
                          ) from None


def add_user(roles_path: Path, name: str, role: str) -> str:
    """Add (or re-key) ``name`` with ``role`` in ``roles_path`` (created with the default
    roles if missing); returns the new token, which is stored nowhere in clear."""
    data = _read_roles(roles_path) if roles_path.exists() else RolesFile()
    token = new_token()
    users = [u for u in data.users if u.name != name]
    users.append(UserEntry(name=name, role=role, token_sha256=hash_token(token)))
    updated = RolesFile(roles=data.roles, users=users)
    AccessPolicy.from_file_model(updated)  # refuse to write a file that would not load
    text = yaml.safe_dump(updated.model_dump(mode="json"), sort_keys=False)
    atomic_write_text(roles_path, text)
    with contextlib.suppress(OSError):
        roles_path.chmod(0o600)
    return token


# -- the server -------------------------------------------------------------------------


class _Denied(Exception):
    def __init__(self, status: HTTPStatus, reason: str, body: dict[str, Any] | None = None
                 ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body = body or {}


class _AnonymizedViews:
    """Anonymized copies of runs, built on demand and rebuilt when the run changes."""

    def __init__(self, cache_dir: Path, cipher: Cipher | None) -> None:
        self.cache_dir = cache_dir
        self.cipher = cipher
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    @staticmethod
    def _newest(path: Path) -> float:
        newest = path.stat().st_mtime
        for root, _dirs, files in os.walk(path, followlinks=False):
            for name in files:
                with contextlib.suppress(OSError):
                    newest = max(newest, (Path(root) / name).lstat().st_mtime)
        return newest

    def view(self, name: str, run_dir: Path) -> Path:
        target = self.cache_dir / name
        with self._lock(name):
            marker = target / MARKER
            if marker.is_file() and marker.stat().st_mtime >= self._newest(run_dir):
                return target
            if run_is_encrypted(run_dir):
                if self.cipher is None:
                    raise _Denied(HTTPStatus.SERVICE_UNAVAILABLE,
                                  "run is encrypted and the server has no key",
                                  {"error": "this run is encrypted; start the server with "
                                            "SAFETY_EVAL_ENCRYPTION_KEY or --key-file"})
                check_key(run_dir, self.cipher)
            export_anonymized(run_dir, target, self.cipher)
            return target

    def report(self, name: str, run_dir: Path) -> Path | None:
        view = self.view(name, run_dir)
        path = view / "report.html"
        with self._lock(name):
            if not path.is_file():
                try:
                    from safety_eval.report.html import build_report
                except ImportError:
                    return None
                build_report(view)
        return path

    def tarball(self, name: str, run_dir: Path) -> Path:
        view = self.view(name, run_dir)
        path = self.cache_dir / f"{name}.anonymized.tar.gz"
        with self._lock(name):
            if not path.is_file() or path.stat().st_mtime < (view / MARKER).stat().st_mtime:
                archive(view, path)
        return path


class ResultsServer(ThreadingHTTPServer):
    """Serves one results folder; see the module doc for the endpoints."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        results_dir: Path,
        policy: AccessPolicy,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        roles_path: Path | None = None,
        cache_dir: Path | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        self.results_dir = Path(results_dir).resolve()
        if not self.results_dir.is_dir():
            raise UserError(f"{results_dir}: no such results folder")
        self.policy = policy
        self.roles_path = roles_path
        self._own_cache = cache_dir is None
        cache = Path(tempfile.mkdtemp(prefix="safety-eval-serve-")) if cache_dir is None \
            else Path(cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
        if cache.resolve().is_relative_to(self.results_dir):
            raise UserError("the cache folder must be outside the results folder")
        self.views = _AnonymizedViews(cache.resolve(), cipher)
        self._thread: threading.Thread | None = None
        self._aliases: dict[str, tuple[int, str]] = {}
        self._alias_lock = threading.Lock()
        super().__init__((host, port), _Handler)
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("serving on a non-loopback address; tokens travel in clear over "
                        "HTTP, put a TLS proxy in front", host=host)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> ResultsServer:
        """Serve from a daemon thread (tests, embedding); ``close()`` stops it."""
        self._thread = threading.Thread(target=self.serve_forever, args=(0.1,),
                                        name="safety-eval-serve", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        if self._own_cache:
            shutil.rmtree(self.views.cache_dir, ignore_errors=True)

    def __enter__(self) -> ResultsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reload(self) -> None:
        if self.roles_path is None:
            raise UserError("this server was not started from a roles file")
        self.policy = load_policy(self.roles_path)

    def _real_run(self, name: str) -> Path | None:
        if not _RUN_NAME.match(name):
            return None
        resolved = (self.results_dir / name).resolve()
        if resolved.parent != self.results_dir or not looks_like_run(resolved) \
                or (resolved / MARKER).exists():
            return None
        return resolved

    def runs(self) -> list[tuple[str, Path]]:
        """(public name, run directory) for every run. The public name is the folder's
        name with model paths and hosts taken out; on a clash the real name is used."""
        found: list[tuple[str, Path]] = []
        taken: set[str] = set()
        children = sorted(p for p in self.results_dir.iterdir() if not p.name.startswith("."))
        real = {p.name for p in children}
        for child in children:
            run_dir = self._real_run(child.name)
            if run_dir is None:
                continue
            alias = self._alias(run_dir)
            if alias in taken or (alias != child.name and alias in real):
                alias = child.name
            taken.add(alias)
            found.append((alias, run_dir))
        return found

    def _alias(self, run_dir: Path) -> str:
        key = str(run_dir)
        try:
            stamp = (run_dir / "run.json").stat().st_mtime_ns
        except OSError:
            return run_dir.name
        with self._alias_lock:
            cached = self._aliases.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        alias = anonymized_run_name(run_dir)
        if not _RUN_NAME.match(alias):
            alias = run_dir.name
        with self._alias_lock:
            self._aliases[key] = (stamp, alias)
        return alias

    def run_dir(self, name: str) -> tuple[str, Path]:
        """(public name, directory) of the run called ``name`` (public or real name)."""
        for alias, run_dir in self.runs():
            if name in (alias, run_dir.name):
                return alias, run_dir
        raise _Denied(HTTPStatus.NOT_FOUND, "no such run")


def _split_path(raw: str) -> list[str]:
    """The URL path as safe segments, or ``_Denied``: no traversal, encoded separators
    or dots, empty, hidden or odd segments."""
    path = urlsplit(raw).path
    lowered = path.lower()
    if any(bad in lowered for bad in ("%2e", "%2f", "%5c", "%00", "\\", "\0")):
        raise _Denied(HTTPStatus.FORBIDDEN, "encoded or forbidden characters in path")
    decoded = unquote(path)
    if not decoded.startswith("/"):
        raise _Denied(HTTPStatus.FORBIDDEN, "path must be absolute")
    segments = decoded.split("/")[1:]
    if segments and segments[-1] == "":
        segments = segments[:-1]
    for segment in segments:
        if segment in ("", ".", ".."):
            raise _Denied(HTTPStatus.FORBIDDEN, "path traversal")
        if not _SEGMENT.match(segment):
            raise _Denied(HTTPStatus.FORBIDDEN, "forbidden path segment")
    return segments


def _inside(base: Path, parts: Sequence[str]) -> Path:
    """``base/parts`` as a regular file that resolves inside ``base``, or ``_Denied``."""
    candidate = base.joinpath(*parts)
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise _Denied(HTTPStatus.FORBIDDEN, "path resolves outside the run (symbolic link)")
    if not resolved.is_file():
        raise _Denied(HTTPStatus.NOT_FOUND, "no such file")
    return resolved


def _listing(base: Path) -> list[str]:
    files = []
    for root, dirs, names in os.walk(base, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not (Path(root) / d).is_symlink()
                         and not (Path(root) / d / MARKER).exists())
        for name in sorted(names):
            path = Path(root) / name
            if not name.startswith(".") and not path.is_symlink():
                files.append(path.relative_to(base).as_posix())
    return files


_CONTENT_TYPES = {
    ".jsonl": "application/x-ndjson; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".prom": "text/plain; version=0.0.4; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".gz": "application/gzip",
}


def _content_type(path: Path) -> str:
    known = _CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _report_csp() -> str:
    try:
        from safety_eval.report.html import CONTENT_SECURITY_POLICY
    except ImportError:
        return "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return str(CONTENT_SECURITY_POLICY)


class _Handler(BaseHTTPRequestHandler):
    server: ResultsServer
    protocol_version = "HTTP/1.1"
    server_version = "safety-eval"
    sys_version = ""

    user: UserEntry | None = None

    # -- plumbing ----------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http", client=self.client_address[0], request=format % args,
                  user=self.user.name if self.user else None)

    def _send_headers(self, status: HTTPStatus, content_type: str, length: int,
                      extra: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send_json(self, status: HTTPStatus, body: Any,
                   extra: Mapping[str, str] | None = None) -> None:
        data = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        self._send_headers(status, "application/json; charset=utf-8", len(data), extra)
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_file(self, path: Path, extra: Mapping[str, str] | None = None) -> None:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            headers = dict(extra or {})
            if path.suffix.lower() == ".html":
                headers.setdefault("Content-Security-Policy", _report_csp())
            self._send_headers(HTTPStatus.OK, _content_type(path), size, headers)
            if self.command != "HEAD":
                shutil.copyfileobj(handle, self.wfile, 1 << 16)

    def _deny(self, denied: _Denied) -> None:
        who = self.user.name if self.user else None
        log.warning("access denied", status=int(denied.status), reason=denied.reason,
                    user=who, client=self.client_address[0], method=self.command,
                    path=self.path[:500])
        body = {"error": denied.reason, **denied.body}
        extra = {"WWW-Authenticate": 'Bearer realm="safety-eval"'} \
            if denied.status == HTTPStatus.UNAUTHORIZED else None
        self._send_json(denied.status, body, extra)

    def _authenticate(self) -> UserEntry:
        header = self.headers.get("Authorization")
        if not header:
            raise _Denied(HTTPStatus.UNAUTHORIZED, "missing bearer token")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Denied(HTTPStatus.UNAUTHORIZED, "expected 'Authorization: Bearer <token>'")
        user = self.server.policy.authenticate(token.strip())
        if user is None:
            raise _Denied(HTTPStatus.FORBIDDEN, "invalid token")
        return user

    def _require(self, permission: str) -> None:
        assert self.user is not None
        if permission not in self.server.policy.permissions(self.user):
            raise _Denied(HTTPStatus.FORBIDDEN, f"permission '{permission}' required")

    def _can(self, permission: str) -> bool:
        return self.user is not None and \
            permission in self.server.policy.permissions(self.user)

    # -- methods -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 1 << 16:
            self.rfile.read(length)  # drain: nothing is read from a body
        self._dispatch("POST")

    def _not_allowed(self) -> None:
        self._send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method not allowed"},
                        {"Allow": "GET, HEAD, POST"})

    do_PUT = do_DELETE = do_PATCH = _not_allowed

    def _dispatch(self, method: str) -> None:
        self.user = None
        try:
            if urlsplit(self.path).path == "/healthz" and method != "POST":
                self._send_json(HTTPStatus.OK, {"status": "ok"})
                return
            self.user = self._authenticate()
            segments = _split_path(self.path)
            self._route(method, segments)
        except _Denied as denied:
            self._deny(denied)
        except CryptoError as exc:
            self._deny(_Denied(HTTPStatus.SERVICE_UNAVAILABLE, "decryption failed",
                               {"detail": str(exc)}))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # one bad request never stops the server
            log.error("request failed", path=self.path[:500], error=f"{type(exc).__name__}",
                      exc_info=True)
            with contextlib.suppress(OSError):
                self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})

    def _route(self, method: str, segments: list[str]) -> None:
        if method == "POST":
            if segments == ["admin", "reload"]:
                self._require("manage_configurations")
                try:
                    self.server.reload()
                except UserError as exc:
                    self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                    return
                log.info("roles reloaded", user=self.user.name if self.user else None)
                self._send_json(HTTPStatus.OK, {"status": "reloaded"})
                return
            raise _Denied(HTTPStatus.NOT_FOUND, "no such endpoint")
        if segments in ([], ["runs"]):
            self._require("view_results")
            self._send_json(HTTPStatus.OK, {"runs": [
                self._run_entry(alias, run_dir) for alias, run_dir in self.server.runs()]})
            return
        if len(segments) < 2 or segments[0] != "runs":
            raise _Denied(HTTPStatus.NOT_FOUND, "no such endpoint")
        if not any(self._can(p) for p in PERMISSIONS if p != "manage_configurations"):
            raise _Denied(HTTPStatus.FORBIDDEN, "no permission to read runs")
        rest = segments[2:]
        alias, run_dir = self.server.run_dir(segments[1])
        # URLs, cached views and archives use the public name unless the user sees raw data
        name = run_dir.name if self._can("access_raw_data") else alias
        views = self.server.views
        if not rest:
            self._require("view_results")
            self._send_json(HTTPStatus.OK, self._run_files(name, run_dir))
            return
        if rest == ["report.html"]:
            self._require("view_results")
            self._report(name, run_dir)
            return
        if rest == ["anonymized.tar.gz"]:
            self._require("export_anonymized_data")
            self._send_file(views.tarball(name, run_dir), {
                "Content-Disposition": f'attachment; filename="{name}.anonymized.tar.gz"'})
            return
        if rest[0] == "anonymized":
            self._require("view_results")
            if len(rest) == 1:
                self._send_json(HTTPStatus.OK, {"files": _listing(views.view(name, run_dir))})
                return
            self._send_file(_inside(views.view(name, run_dir), rest[1:]))
            return
        if not self._can("access_raw_data"):
            # the anonymized view renames the model folders whose spec held a path or host
            mapped = [folder_map(run_dir).get(rest[0], rest[0]), *rest[1:]]
            pointer = f"/runs/{quote(name)}/anonymized/" + "/".join(quote(s) for s in mapped)
            raise _Denied(HTTPStatus.FORBIDDEN, "raw data needs the access_raw_data permission",
                          {"anonymized": pointer})
        self._send_file(_inside(run_dir, rest))

    def _report(self, name: str, run_dir: Path) -> None:
        if self._can("access_raw_data"):
            raw = run_dir / "report.html"
            if raw.is_file() and not raw.is_symlink():
                self._send_file(raw)
                return
            try:
                from safety_eval.report.html import render_report
            except ImportError:
                raise _Denied(HTTPStatus.NOT_FOUND, "no report available") from None
            data = render_report(run_dir).encode("utf-8")
            self._send_headers(HTTPStatus.OK, "text/html; charset=utf-8", len(data),
                               {"Content-Security-Policy": _report_csp()})
            if self.command != "HEAD":
                self.wfile.write(data)
            return
        path = self.server.views.report(name, run_dir)
        if path is None:
            raise _Denied(HTTPStatus.NOT_FOUND, "no report available")
        self._send_file(path)

    def _run_entry(self, alias: str, run_dir: Path) -> dict[str, Any]:
        try:
            manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            manifest = {}
        raw = self._can("access_raw_data")
        models = [m.get("spec") for m in manifest.get("models") or [] if isinstance(m, dict)]
        name = run_dir.name if raw else alias
        return {
            "name": name,
            "run_id": manifest.get("run_id"),
            "status": manifest.get("status"),
            "started_at": manifest.get("started_at"),
            "finished_at": manifest.get("finished_at"),
            "models": [m if raw else anonymize_spec(str(m)) for m in models],
            "encrypted": run_is_encrypted(run_dir),
            "report": f"/runs/{quote(name)}/report.html",
        }

    def _run_files(self, name: str, run_dir: Path) -> dict[str, Any]:
        body: dict[str, Any] = {"run": name, "report": f"/runs/{quote(name)}/report.html",
                                "anonymized": f"/runs/{quote(name)}/anonymized/"}
        if self._can("access_raw_data"):
            body["files"] = _listing(run_dir)
        if self._can("export_anonymized_data"):
            body["export"] = f"/runs/{quote(name)}/anonymized.tar.gz"
        return body


# -- entry points -----------------------------------------------------------------------


def make_server(
    results_dir: Path,
    roles_path: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    cache_dir: Path | None = None,
    cipher: Cipher | None = None,
) -> ResultsServer:
    """A :class:`ResultsServer` for ``results_dir`` with the users of ``roles_path``."""
    policy = load_policy(roles_path)
    if not policy.users:
        log.warning("the roles file lists no users; every request will be refused",
                    roles=str(roles_path))
    return ResultsServer(results_dir, policy, host, port, roles_path=roles_path,
                         cache_dir=cache_dir, cipher=cipher)


def serve(
    results_dir: Path,
    roles_path: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    cache_dir: Path | None = None,
    cipher: Cipher | None = None,
) -> None:
    """Serve until interrupted (``safety-eval serve``)."""
    server = make_server(results_dir, roles_path, host, port, cache_dir, cipher)
    log.info("serving results", url=server.url, results_dir=str(results_dir))
    print(f"serving {results_dir} on {server.url}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m safety_eval.ops.serve {serve,add-user,hash-token} ...``."""
    parser = argparse.ArgumentParser(prog="python -m safety_eval.ops.serve")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="serve a results folder")
    run.add_argument("results_dir", type=Path)
    run.add_argument("--roles", type=Path, required=True)
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--cache-dir", type=Path, default=None)
    run.add_argument("--key-file", type=Path, default=None)
    add = sub.add_parser("add-user", help="add a user and print its token once")
    add.add_argument("roles", type=Path)
    add.add_argument("name")
    add.add_argument("role")
    sub.add_parser("hash-token", help="hash a token read from stdin")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            cipher = None
            if args.key_file is not None or os.environ.get("SAFETY_EVAL_ENCRYPTION_KEY"):
                cipher = Cipher.from_env_or_file(args.key_file)
            serve(args.results_dir, args.roles, args.host, args.port, args.cache_dir, cipher)
        elif args.command == "add-user":
            token = add_user(args.roles, args.name, args.role)
            print(f"user {args.name} ({args.role}) added to {args.roles}; token (shown once):",
                  file=sys.stderr)
            print(token)
        else:
            print(hash_token(sys.stdin.readline().strip()))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
