"""Run docker-compose.yml's Airflow services as native processes: a rehearsal of the stack without a Docker engine.

The launcher resolves the compose file with ``docker-compose config`` (Compose's own interpolation,
anchors, merge keys and profiles, with only the given env file visible), and starts each Airflow
service's command with that service's environment. Only what a container runtime would provide is
emulated, never what the compose file should say:

- **Filesystem.** Each service gets its own root (``containers/<service>``), as each container has its
  own image layer: ``/opt/airflow`` (the image's ``AIRFLOW_HOME``, so each process writes its own
  ``airflow.cfg``) and ``/home/airflow``. The compose ``volumes:`` become symlinks into shared folders
  (bind mounts of ``./x`` go to the repository, or to a redirect given by the caller; named volumes to
  ``volumes/<name>``). Container paths in commands, healthchecks and environment values are rewritten
  to that root. ``:ro`` is not enforced.
- **Image.** The base image's ``AIRFLOW_HOME=/opt/airflow`` plus the Dockerfile's ``ENV`` lines, and
  ``/entrypoint`` as a shim with the official entrypoint's dispatch (``bash``/``python`` run as is,
  ``airflow x`` and bare ``x`` run ``airflow x``). ``airflow`` and ``python`` are the project venv's.
- **Network.** Service host names (``postgres``, ``redis``, ``airflow-apiserver``...) resolve to
  127.0.0.1. Each service's listening ports (API 8080, scheduler health 8974, log servers 8793/8794)
  get a free host port through Airflow's own port settings, and every ``//service:port`` or (inside a
  service) ``//localhost:port`` URL is rewritten to it. The metadata DB becomes a fresh database on the
  local PostgreSQL (user ``postgres``, trust auth) and the Celery broker a dedicated local Redis DB.
- **Identity.** ``user: "uid:gid"`` is honoured: processes run under that uid/gid when we are root.
- **HOSTNAME.** In a container, ``$HOSTNAME`` is both Airflow's hostname and Celery's node name; here
  they differ, so each healthcheck gets the name its process registered under.

The process environment is built from scratch (PATH, locale), never inherited, so a variable missing from
the compose file stays missing here. :func:`validate` checks the invariants the stack relies on before
anything starts; :class:`NativeStack` then runs the init service, the long-running services and their
healthchecks.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"

# The official base image's ENV that the Dockerfile inherits.
BASE_IMAGE_ENV = {"AIRFLOW_HOME": "/opt/airflow"}
CONTAINER_PREFIXES = ("/opt/airflow", "/home/airflow")
# Container ports of Airflow processes and the setting that moves each one.
PORT_SETTINGS = {
    8080: "AIRFLOW__API__PORT",
    8974: "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
    8793: "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    8794: "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
    5555: "AIRFLOW__CELERY__FLOWER_PORT",
}
# Must be present, non-empty and identical in every Airflow service, or components cannot talk.
SHARED_SETTINGS = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__EXECUTOR",
)
AIRFLOW_SUBCOMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer", "celery"}
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"

ENTRYPOINT_SHIM = """#!/usr/bin/env bash
# Native stand-in for the Airflow image's /entrypoint dispatch (see tests/support/compose.py).
set -e
case "${1:-}" in
  bash) shift; exec bash "$@" ;;
  python) shift; exec python "$@" ;;
  airflow) shift ;;
esac
exec airflow "$@"
"""


class ComposeDriftError(ValueError):
    """The compose file no longer describes a stack whose components can work together."""


# ----- resolution (docker-compose config) ----------------------------------------------------------------
def _unescape(node: Any) -> Any:
    """``$$`` -> ``$`` in every string: what Compose does when it hands a value to a container."""
    if isinstance(node, str):
        return node.replace("$$", "$")
    if isinstance(node, list):
        return [_unescape(v) for v in node]
    if isinstance(node, dict):
        return {k: _unescape(v) for k, v in node.items()}
    return node


def resolve(doc: Mapping[str, Any], env: Mapping[str, str], profiles: Iterable[str] = ()) -> dict[str, Any]:
    """The compose document as ``docker-compose config`` resolves it with ``env`` and ``profiles``.

    Compose itself interpolates (``${VAR:-d}``, ``${VAR:?e}`` ...), expands anchors and merge keys,
    drops services of other profiles and resolves bind mounts against the repository. It runs with an
    empty process environment, so only ``env`` (written to an env file) is seen, as on a user's machine.
    A refusal (e.g. a required variable missing) raises :class:`ComposeDriftError` with Compose's words.
    """
    import shutil
    import tempfile

    exe = shutil.which("docker-compose")
    if exe is None:
        raise FileNotFoundError("docker-compose is not on PATH (fix: apt-get install docker-compose)")
    with tempfile.TemporaryDirectory(prefix="cg-compose-") as tmp:
        compose = Path(tmp) / "docker-compose.yml"
        compose.write_text(yaml.safe_dump(dict(doc), sort_keys=False), encoding="utf-8")
        env_file = Path(tmp) / "compose.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
        argv = [exe, "--project-directory", str(REPO_ROOT), "--env-file", str(env_file), "-f", str(compose)]
        for profile in profiles:
            argv += ["--profile", profile]
        proc = subprocess.run([*argv, "config"], capture_output=True, text=True, timeout=120,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp})
    if proc.returncode != 0:
        raise ComposeDriftError(" ".join(proc.stderr.split()) or f"docker-compose config exited {proc.returncode}")
    resolved = yaml.safe_load(proc.stdout) or {}
    return dict(_unescape(resolved))


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a Compose ``.env`` file with python-dotenv (no interpolation: Compose does that itself)."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such env file (fix: run `make init` or pass an existing file)")
    return {k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None}


# ----- the parsed file ----------------------------------------------------------------------------------
@dataclass
class Service:
    """One resolved compose service."""

    name: str
    raw: dict[str, Any]

    @property
    def environment(self) -> dict[str, str]:
        env = self.raw.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.partition("=")[::2] for item in env)
        return {str(k): "" if v is None else str(v) for k, v in env.items()}

    @property
    def is_airflow(self) -> bool:
        """Built from this repository's Dockerfile (the x-airflow-common services)."""
        return "build" in self.raw

    @property
    def profiles(self) -> list[str]:
        return list(self.raw.get("profiles") or [])

    @property
    def depends_on(self) -> dict[str, str]:
        deps = self.raw.get("depends_on") or {}
        if isinstance(deps, list):
            return dict.fromkeys(deps, "service_started")
        return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}

    def argv(self) -> list[str]:
        """The process a container would run: entrypoint + command (the image's /entrypoint by default)."""
        command = self.raw.get("command")
        entrypoint = self.raw.get("entrypoint")
        cmd = shlex.split(command) if isinstance(command, str) else list(command or [])
        ep = shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint or ["/entrypoint"])
        return [str(x) for x in ep + cmd]

    def user(self) -> tuple[int, int] | None:
        user = self.raw.get("user")
        if not user:
            return None
        uid, _, gid = str(user).partition(":")
        return int(uid), int(gid or 0)

    def healthcheck(self) -> list[str] | None:
        test = (self.raw.get("healthcheck") or {}).get("test")
        if not test or test == ["NONE"]:
            return None
        if isinstance(test, str):
            return ["/bin/sh", "-c", test]
        kind, *rest = test
        if kind == "CMD-SHELL":
            return ["/bin/sh", "-c", rest[0]]
        if kind == "CMD":
            return [str(x) for x in rest]
        raise ComposeDriftError(f"service {self.name}: unknown healthcheck form {kind!r}")


def load_compose(path: Path, env: Mapping[str, str], profiles: Iterable[str] = ()) -> dict[str, Service]:
    """The enabled services of ``path`` (no profile, or one of ``profiles``), resolved with ``env``."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return services_from_doc(doc, env, profiles)


def services_from_doc(
    doc: Mapping[str, Any], env: Mapping[str, str], profiles: Iterable[str] = ()
) -> dict[str, Service]:
    """The services ``docker-compose config`` enables for ``profiles`` (see :func:`resolve`)."""
    resolved = resolve(doc, env, profiles)
    return {name: Service(name, dict(raw)) for name, raw in (resolved.get("services") or {}).items()}


def dockerfile_env(path: Path = DOCKERFILE) -> dict[str, str]:
    """``ENV`` settings of a Dockerfile (``ENV A=1 B=2`` with line continuations)."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    env = dict(BASE_IMAGE_ENV)
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[0].upper() == "ENV":
            for token in shlex.split(parts[1]):
                key, _, value = token.partition("=")
                env[key] = value
    return env


# ----- invariants ------------------------------------------------------------------------------------------
def validate(services: Mapping[str, Service]) -> None:
    """Raise :class:`ComposeDriftError` when the Airflow services cannot form a working stack."""
    airflow = {n: s for n, s in services.items() if s.is_airflow}
    if not airflow:
        raise ComposeDriftError("no service builds the Airflow image (build: .)")
    for name, svc in airflow.items():
        if not svc.raw.get("command"):
            raise ComposeDriftError(f"service {name} has no command")
        env = svc.environment
        for key in SHARED_SETTINGS:
            if not env.get(key):
                raise ComposeDriftError(f"service {name}: {key} is missing or empty; every Airflow component needs it")
    for key in SHARED_SETTINGS:
        values = {n: s.environment[key] for n, s in airflow.items()}
        if len(set(values.values())) > 1:
            raise ComposeDriftError(f"{key} differs between services: {sorted(values)}")
    apiservers = [n for n, s in airflow.items() if "api-server" in s.argv()]
    if not apiservers:
        raise ComposeDriftError("no service runs `airflow api-server`")
    url = urlsplit(next(iter(airflow.values())).environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    if url.hostname not in apiservers or (url.port or 80) != 8080 or not url.path.rstrip("/").endswith("/execution"):
        raise ComposeDriftError(
            f"AIRFLOW__CORE__EXECUTION_API_SERVER_URL={url.geturl()} must be "
            "http://<api-server service>:8080/execution/"
            f" (api-server services: {apiservers})"
        )


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement that inserts ``text`` as it is (no backslash or group processing)."""
    return lambda _match: text


# ----- native runtime --------------------------------------------------------------------------------------
def free_port_block(start: int, count: int) -> list[int]:
    """``count`` ports from ``start`` on that nothing listens on."""
    ports: list[int] = []
    port = start
    while len(ports) < count:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                ports.append(port)
            except OSError:
                pass
        port += 1
    return ports


def airflow_hostname() -> str:
    """What Airflow's default ``hostname_callable`` (airflow.utils.net.getfqdn) returns on this machine."""
    name = socket.gethostname()
    try:
        for addr in socket.getaddrinfo(name, None, 0, socket.SOCK_DGRAM, 0, socket.AI_CANONNAME):
            if addr[3]:
                return addr[3]
    except OSError:
        pass
    return name


def _collapse_sibling_mounts(mounts: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Merge ``D/a <- H/a`` and ``D/b <- H/b`` into one ``D <- H`` (D itself not mounted).

    A symlink per mount point would make ``D/a`` resolve outside ``D``, which a bind mount never does,
    and code that refuses paths escaping a folder (the pipeline's data folder) would see a difference.
    """
    by_parent: dict[str, list[tuple[str, Path]]] = {}
    for dst, src in mounts:
        by_parent.setdefault(os.path.dirname(dst), []).append((dst, src))
    mounted = {dst for dst, _ in mounts}
    out = []
    for parent, group in by_parent.items():
        parents = {src.parent for _, src in group}
        same_names = all(os.path.basename(dst) == src.name for dst, src in group)
        if len(group) > 1 and len(parents) == 1 and same_names and parent not in mounted:
            out.append((parent, parents.pop()))
        else:
            out.extend(group)
    return out


@dataclass
class NativeStack:
    """The compose stack's Airflow services as local processes under ``workdir``."""

    services: dict[str, Service]
    workdir: Path
    db_name: str
    port_start: int
    redis_db: int = 13
    host_dirs: dict[str, Path] = field(default_factory=dict)
    pg_dsn: str = DEFAULT_PG
    check: bool = True  # run validate() first; off only to run the init's own refusal logic
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    port_map: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.check:
            validate(self.services)
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self.image_env = dockerfile_env()
        self.shim = self.workdir / "entrypoint"
        self.shim.write_text(ENTRYPOINT_SHIM)
        self.shim.chmod(0o755)
        airflow = [n for n, s in self.services.items() if s.is_airflow]
        free = iter(free_port_block(self.port_start, len(airflow) * len(PORT_SETTINGS)))
        for name, svc in self.services.items():
            if svc.is_airflow:
                for cport in PORT_SETTINGS:
                    self.port_map[(name, cport)] = next(free)
        self.external = {n for n, s in self.services.items() if not s.is_airflow}
        self.hostnames = {"airflow": airflow_hostname(), "celery": socket.gethostname()}

    # -- database ------------------------------------------------------------------------------
    def create_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(self.pg_dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{self.db_name}"')
        conn.close()

    def drop_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(self.pg_dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        conn.close()

    # -- rewriting ------------------------------------------------------------------------------
    def root(self, service: str) -> Path:
        return self.workdir / "containers" / service

    def mounts(self, service: str) -> list[tuple[str, Path]]:
        """``(container path, native source)`` of the service's volumes, longest container path first."""
        out = []
        for spec in self.services[service].raw.get("volumes") or []:
            src, dst = str(spec).split(":")[:2]
            if src.startswith((".", "/")):  # a bind mount; Compose resolved it against the repository
                rel = os.path.relpath(src, REPO_ROOT) if os.path.isabs(src) else os.path.normpath(src)
                source = self.host_dirs.get(rel) or (REPO_ROOT / rel).resolve()
            else:
                source = self.workdir / "volumes" / src
            out.append((dst.rstrip("/"), source))
        return sorted(_collapse_sibling_mounts(out), key=lambda m: -len(m[0]))

    def rewrite(self, service: str, value: str) -> str:
        """Map container paths, service host names and ports of one string to their native equivalents."""
        root = self.root(service)
        for dst, source in self.mounts(service):
            value = re.sub(rf"(?<![\w/.]){re.escape(dst)}(?=/|\b|$)", _literal(str(source)), value)
        for prefix in CONTAINER_PREFIXES:
            value = re.sub(rf"(?<![\w/.]){re.escape(prefix)}(?=/|\b|$)", _literal(str(root) + prefix), value)
        value = re.sub(r"(?<![\w/.])/entrypoint\b", str(self.shim), value)

        def url(m: re.Match[str]) -> str:
            return self._rewrite_url(service, m.group(0))

        return re.sub(r"[a-z][a-z0-9+.]*://[^\s'\"]+", url, value)

    def _rewrite_url(self, service: str, raw: str) -> str:
        parts = urlsplit(raw)
        host, port = parts.hostname or "", parts.port
        if parts.scheme.startswith(("postgresql", "db+postgresql")) and host in self.external:
            pw = f":{parts.password}" if parts.password else ""
            return urlunsplit((parts.scheme, f"postgres{pw}@127.0.0.1:5432", f"/{self.db_name}", parts.query, ""))
        if parts.scheme == "redis" and host in self.external:
            return urlunsplit((parts.scheme, f"127.0.0.1:{port or 6379}", f"/{self.redis_db}", parts.query, ""))
        target = service if host in {"localhost", "127.0.0.1"} else host
        if port is not None and (target, port) in self.port_map:
            return urlunsplit(
                (parts.scheme, f"127.0.0.1:{self.port_map[(target, port)]}", parts.path, parts.query, parts.fragment)
            )
        if host in self.services:
            netloc = parts.netloc.replace(host, "127.0.0.1")
            return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        return raw

    def env(self, service: str) -> dict[str, str]:
        """The process environment of ``service``: image ENV + compose environment, rewritten, + its ports."""
        svc = self.services[service]
        env = {
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": "/home/airflow",
            "PYTHONDONTWRITEBYTECODE": "1",
            **self.image_env,
            **svc.environment,
        }
        env = {k: self.rewrite(service, v) for k, v in env.items()}
        for cport, setting in PORT_SETTINGS.items():
            env[setting] = str(self.port_map[(service, cport)])
        env["AIRFLOW__API__HOST"] = "127.0.0.1"
        return env

    def prepare(self, service: str) -> None:
        """Create the service's root and its volume symlinks (a container's filesystem)."""
        svc = self.services[service]
        root = self.root(service)
        uid, gid = svc.user() or (os.getuid(), os.getgid())
        for prefix in CONTAINER_PREFIXES:
            path = root / prefix.lstrip("/")
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, uid, gid)
        for dst, source in self.mounts(service):
            source.mkdir(parents=True, exist_ok=True)
            link = root / dst.lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                if link.is_dir() and not link.is_symlink():
                    link.rmdir()
                else:
                    link.unlink()
            link.symlink_to(source, target_is_directory=True)

    # -- processes ------------------------------------------------------------------------------
    def _popen_kwargs(self, service: str) -> dict[str, Any]:
        user = self.services[service].user()
        kwargs: dict[str, Any] = {"env": self.env(service), "cwd": str(self.root(service) / "opt/airflow")}
        if user and os.getuid() == 0:
            kwargs.update(user=user[0], group=user[1], extra_groups=[])
        return kwargs

    def run(self, service: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run a one-shot service (like airflow-init) to completion."""
        self.prepare(service)
        argv = [self.rewrite(service, a) for a in self.services[service].argv()]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **self._popen_kwargs(service))

    def start(self, service: str) -> None:
        """Start a long-running service in its own process group; output goes to logs/<service>.log."""
        self.prepare(service)
        argv = [self.rewrite(service, a) for a in self.services[service].argv()]
        log = self.workdir / "logs" / f"{service}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as fh:
            self.procs[service] = subprocess.Popen(
                argv, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, **self._popen_kwargs(service)
            )

    def log(self, service: str, tail: int = 4000) -> str:
        path = self.workdir / "logs" / f"{service}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def exec(self, service: str, shell_command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``docker compose exec <service> sh -c <shell_command>``, natively, in the service's environment."""
        argv = ["/bin/sh", "-c", self.rewrite(service, shell_command)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **self._popen_kwargs(service))

    def healthcheck(self, service: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run the service's compose healthcheck once, natively, with the service's environment."""
        test = self.services[service].healthcheck()
        if test is None:
            raise ComposeDriftError(f"service {service} has no healthcheck")
        kwargs = self._popen_kwargs(service)
        is_celery = "celery" in self.services[service].argv()
        kwargs["env"]["HOSTNAME"] = self.hostnames["celery" if is_celery else "airflow"]
        argv = [self.rewrite(service, a) for a in test]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)

    def wait_healthy(self, service: str, timeout: float = 90, interval: float = 1.0) -> float:
        """Poll the healthcheck until it passes; return the seconds it took. Fails if the process died."""
        start = time.monotonic()
        last: subprocess.CompletedProcess[str] | None = None
        while time.monotonic() - start < timeout:
            proc = self.procs.get(service)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{service} exited with {proc.returncode}:\n{self.log(service)}")
            try:
                last = self.healthcheck(service)
                if last.returncode == 0:
                    return time.monotonic() - start
            except subprocess.TimeoutExpired:
                pass
            time.sleep(interval)
        detail = f"{last.stdout[-1500:]}{last.stderr[-1500:]}" if last else ""
        raise TimeoutError(f"{service} not healthy after {timeout} s: {detail}\n--- log:\n{self.log(service)}")

    def order(self, names: Iterable[str]) -> list[str]:
        """Topological order of ``names`` by depends_on (dependencies first)."""
        names = list(names)
        done: list[str] = []

        def visit(n: str, path: tuple[str, ...]) -> None:
            if n in done:
                return
            if n in path:
                raise ComposeDriftError(f"depends_on cycle: {' -> '.join((*path, n))}")
            for dep in self.services[n].depends_on:
                if dep not in self.services:
                    raise ComposeDriftError(f"{n} depends on undefined service {dep}")
                visit(dep, (*path, n))
            done.append(n)

        for n in names:
            visit(n, ())
        return [n for n in done if n in names or self.services[n].is_airflow]

    def up(self, services: Iterable[str], health_timeout: float = 120) -> dict[str, float]:
        """Bring ``services`` up in depends_on order, honouring each condition; return seconds to healthy."""
        timings: dict[str, float] = {}
        for name in self.order(services):
            svc = self.services[name]
            if not svc.is_airflow:
                continue
            for dep, condition in svc.depends_on.items():
                if dep in self.external:
                    continue
                if condition == "service_completed_successfully" and dep not in timings:
                    raise ComposeDriftError(f"{name} waits for {dep} to complete, which did not run")
                if condition == "service_healthy" and dep in self.procs:
                    self.wait_healthy(dep, health_timeout)
            if svc.raw.get("restart") == "no":
                t0 = time.monotonic()
                result = self.run(name)
                if result.returncode != 0:
                    raise RuntimeError(
                        f"{name} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
                    )
                timings[name] = time.monotonic() - t0
            else:
                self.start(name)
        t0 = time.monotonic()
        for name in self.procs:
            self.wait_healthy(name, health_timeout)
            timings[name] = time.monotonic() - t0
        return timings

    def down(self) -> None:
        """SIGTERM every process group we started, then SIGKILL what is left after 15 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
