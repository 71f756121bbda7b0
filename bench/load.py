"""Concurrent employees uploading selfies against gunicorn on PostgreSQL, one command.

    .venv/bin/python bench/load.py [--users 50] [--photos 10] [--uplink-mbit 20]
                                   [--database-url postgres://…/likeness_load_bench]

Creates a scratch PostgreSQL database (dropped at the end; its name must contain "bench"),
migrates it, seeds one company whose employees have all given consent, starts gunicorn as
production runs it (gthread, WEB_CONCURRENCY processes × GUNICORN_THREADS threads, DEBUG
off, PostgreSQL with persistent connections and the tenant wall on, Redis cache and
sessions) on a free port of 127.0.0.1 behind nginx set up as production's ingress-nginx
(the whole request body buffered before gunicorn sees it), and then, as the page's
uploader does (one request per photo, one after the other; the verdicts still awaited
asked for together meanwhile), each employee's phone sending at `--uplink-mbit`:

1. single user: one employee uploads `--photos` photos;
2. concurrent: `--users` employees upload `--photos` photos each, all starting together;
3. capacity (`--stress`, on by default): other `--users` employees do the same with no
   network at all (every byte at loopback speed, the next photo the moment the last is
   answered): what the two cores can take, printed apart from the goal.

Why the phones' uplink: with no network, `--users` clients that never pause keep every core
busy by construction, and an answer then takes about users × CPU per request / cores
whatever the server does (Little's law; the capacity phase shows it). A person's own upload
time is mostly their own uplink, which their colleagues do not share; the goal asks what
fifty colleagues add to it.

Each upload is a distinct 12 MP phone photo of a real face (../shared/faces), as JPEG (or
HEIC with --format heic). It prints the upload time per request (p50/p95) for each phase,
the time until each photo's verdict is known, the errors (any non-200 answer, a refused
photo that should have been accepted, a worker that crashed or timed out in gunicorn's log,
an error in nginx's), gunicorn's own share of the concurrent uploads (nginx's upstream
time: from the whole photo in nginx's hands to the answer), where the cores went, the machine
and its load. Everything it starts is stopped at the end or after --max-seconds. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hardware import load_average, machine  # bench/, beside this script

ROOT = Path(__file__).resolve().parents[1]
FACES = next((p for p in (ROOT.parent / "shared" / "faces", Path("/work/shared/faces"))
              if p.exists()), ROOT.parent / "shared" / "faces")
PYTHON = sys.executable
SIZE = (4032, 3024)  # an iPhone's 12 MP


# --- The photos ---------------------------------------------------------------------------


def phone_photos(count: int, fmt: str, cache: Path) -> list[bytes]:
    """`count` distinct 12 MP photos of one real face (different crops, light and noise,
    so each is a new photo to intake's duplicate check), cached between runs."""
    import numpy as np
    from PIL import Image, ImageEnhance, ImageFilter

    cache.mkdir(parents=True, exist_ok=True)
    face = Image.open(FACES / "obama.jpg").convert("RGB")
    photos = []
    for n in range(count):
        path = cache / f"load-{n:03d}-{SIZE[0]}x{SIZE[1]}.{fmt}"
        if not path.exists():
            rng = np.random.default_rng(n)
            frame = face.resize(SIZE, Image.Resampling.BILINEAR).filter(ImageFilter.BoxBlur(40))
            height = int(SIZE[1] * (0.9 + 0.1 * rng.random()))
            width = round(face.width * height / face.height)
            frame.paste(face.resize((width, height), Image.Resampling.LANCZOS),
                        ((SIZE[0] - width) // 2 + int(rng.integers(-200, 200)),
                         SIZE[1] - height))
            frame = ImageEnhance.Brightness(frame).enhance(0.9 + 0.2 * rng.random())
            noise = rng.normal(0, 2, (SIZE[1], SIZE[0], 3))
            pixels = np.clip(np.asarray(frame, dtype=np.float32) + noise, 0, 255)
            image = Image.fromarray(pixels.astype(np.uint8))
            if fmt == "heic":
                import pillow_heif

                heif = pillow_heif.from_pillow(image)
                heif.save(path.with_suffix(".partial"), quality=80, tile_size=512)
                path.with_suffix(".partial").rename(path)
            else:
                image.save(path, format="JPEG", quality=92)
        photos.append(path.read_bytes())
    return photos


# --- The scratch database and the server ----------------------------------------------------


def _admin_connection(url: str):
    import environ

    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        raise SystemExit("--database-url must name PostgreSQL")
    if "bench" not in config["NAME"]:
        raise SystemExit(f"refusing to drop and re-create {config['NAME']!r}: its name must "
                         "contain 'bench' (it is a throwaway database)")
    return config["NAME"], dict(
        host=config.get("HOST") or None, port=config.get("PORT") or None,
        user=config.get("USER") or None, password=config.get("PASSWORD") or None,
        dbname="postgres", autocommit=True, connect_timeout=10)


def database_create(url: str) -> None:
    import psycopg

    name, admin = _admin_connection(url)
    with psycopg.connect(**admin) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str) -> None:
    import psycopg

    name, admin = _admin_connection(url)
    with psycopg.connect(**admin) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(args, media: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.local", "DJANGO_DEBUG": "0",
        "DATABASE_URL": args.database_url, "DATABASE_CONN_MAX_AGE": "60",
        "REDIS_URL": args.redis_url, "MEDIA_ROOT": str(media),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT), "XDG_RUNTIME_DIR": tempfile.gettempdir(),
        "SELFIE_INTAKE_PROCESSES": str(args.intake_processes),
        # As production: the database's tenant wall on, so each request names its company
        # (and opens the wall for the membership look-up) as it does there. The bench's role
        # owns the tables, so the policies let it through; the statements are what it costs.
        "DB_ROW_LEVEL_SECURITY": "1",
    })
    env.pop("AWS_STORAGE_BUCKET_NAME", None)
    return env


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def problems(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines()
                if re.search(r"WORKER TIMEOUT|SIGSEGV|SIGKILL|signal 11|Segmentation|"
                             r"exited with code|Traceback|Internal Server Error", line)]


def server_start(args, env: dict[str, str], logdir: Path) -> Server:
    port = free_port()
    log = logdir / "gunicorn.log"
    command = [
        PYTHON, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.web_processes), "--worker-class", "gthread",
        "--threads", str(args.web_threads), "--timeout", "60", "--graceful-timeout", "10",
        "--keep-alive", "75",  # as platform/bin/start-web: longer than nginx keeps one idle
        "--worker-tmp-dir", "/dev/shm", "--error-logfile", "-",
    ]
    handle = log.open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=handle,
                               start_new_session=True)
    server = Server(process, port, log)
    _listening(process, port, "gunicorn", 60, stop=server.stop,
               output=lambda: log.read_text()[-3000:])
    return server


def _listening(process: subprocess.Popen, port: int, name: str, seconds: float, *,
               stop: Callable[[], None], output: Callable[[], str]) -> None:
    """Wait until ``process`` accepts connections on ``port``; stop it and exit if it does
    not within ``seconds`` or exits first (``output``: what it said)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited at start:\n{output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    stop()
    raise SystemExit(f"{name} did not start within {seconds:g} s")


NGINX_CONF = """\
# As platform/k8s/ingress.yaml and ingress-nginx's defaults: the whole request body is read
# (into memory up to 8k, then a temporary file) before gunicorn gets the request.
{user}worker_processes auto;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    # How long gunicorn took to answer once nginx had the whole body (the server's own
    # share of an upload's time): printed for the concurrent phase.
    log_format upstream '$request_method $upstream_response_time';
    access_log {dir}/access.log upstream;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 64m;
    client_body_buffer_size 8k;
    proxy_request_buffering on;
    proxy_buffering off;
    proxy_read_timeout 75s;
    upstream web {{ server 127.0.0.1:{upstream}; keepalive 320; keepalive_timeout 60s; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    process: subprocess.Popen
    port: int
    dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def upstream_seconds(self, method: str = "POST") -> list[float]:
        """gunicorn's answer time for each ``method`` request since the last call."""
        log = self.dir / "access.log"
        if not log.exists():
            return []
        lines = log.read_text().splitlines()
        log.write_text("")  # nginx appends (O_APPEND): the next call sees only what follows
        return [float(time) for line in lines if (parts := line.split()) and
                parts[0] == method for time in parts[1:2] if time != "-"]

    def problems(self) -> list[str]:
        log = self.dir / "nginx-error.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return [line for line in text.splitlines() if "[error]" in line or "[crit]" in line
                or "[alert]" in line or "[emerg]" in line]


def proxy_start(upstream: int, logdir: Path) -> Proxy:
    """nginx in front of gunicorn, as production has ingress-nginx (Debian: apt-get install
    nginx-light)."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)
    if binary is None:
        raise SystemExit("nginx not found: production answers through ingress-nginx, which "
                         "reads each upload before gunicorn sees it. Install it (Debian: "
                         "apt-get install nginx-light) or pass --proxy none (then every slow "
                         "phone holds a gunicorn thread for its whole upload).")
    folder = logdir / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    # Run as root, nginx's workers would be "nobody", shut out of this private folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(dir=folder, upstream=upstream, port=port, user=user))
    process = subprocess.Popen([binary, "-c", str(conf), "-e", str(folder / "nginx-error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proxy = Proxy(process, port, folder)
    _listening(process, port, "nginx", 15, stop=proxy.stop,
               output=lambda: process.stderr.read().decode()[-2000:])
    return proxy


# --- Where the cores go ------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, str, str, float]]:
    """pid → (parent, name, command line, CPU seconds so far), read from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry.name)] = (int(fields[1]), name, command,
                                  (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_by_part(server: Server, proxy: Proxy | None) -> dict[str, float]:
    """CPU seconds used so far by each part of the machine's load: gunicorn's web processes,
    their intake processes, nginx, PostgreSQL, Redis, and the simulated phones (this
    process). Taken before and after a phase, the difference says where the cores went."""
    table = _processes()

    def under(root: int) -> set[int]:
        tree, grew = {root}, True
        while grew:
            more = {pid for pid, (parent, *_rest) in table.items()
                    if parent in tree and pid not in tree}
            tree |= more
            grew = bool(more)
        return tree & set(table)

    web = under(server.process.pid)
    intake = {pid for pid in web if "multiprocessing" in table[pid][2]}
    parts = {"web": web - intake, "intake": intake,
             "nginx": under(proxy.process.pid) if proxy else set(),
             "PostgreSQL": {p for p, row in table.items() if row[1] == "postgres"},
             "Redis": {p for p, row in table.items() if row[1].startswith("redis-server")},
             "phones": {os.getpid()}}
    return {part: sum(table[p][3] for p in pids) for part, pids in parts.items()}


# --- Seeding (in this process, on the scratch database) ----------------------------------------


@dataclass
class Employee:
    slug: str
    session: str
    csrf: str
    membership_id: int


def seed(people: int) -> list[Employee]:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from privacy.services import RequestInfo, consent_grant, notice_current
    from teams.models import Membership
    from teams.services.companies import company_create
    from teams.services.invitations import invitation_create

    slug = f"load-{secrets.token_hex(3)}"
    company = company_create(name="Load Bench", slug=slug, owner_email=f"owner@{slug}.example",
                             owner_name="Olive Owner")
    owner = Membership.objects.for_company(company).get(role=Membership.Role.OWNER)
    notice = notice_current(company=company)
    employees = []
    for n in range(people):
        invitation = invitation_create(company=company, email=f"e{n:03d}@{slug}.example",
                                       full_name=f"Employee {n:03d}", created_by=owner.user,
                                       send=False)
        member = invitation.membership
        Membership.objects.for_company(company).filter(pk=member.pk).update(
            status=Membership.Status.JOINED, joined_at=member.invited_at)
        member.refresh_from_db()
        consent_grant(company=company, membership=member, notice=notice,
                      signed_name=f"Employee {n:03d}", agreed=True,
                      request_info=RequestInfo(ip_address="127.0.0.1", user_agent="bench/load"))
        user = member.user
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = next(  # as force_login: a backend that loads users
            b for b in settings.AUTHENTICATION_BACKENDS if "axes" not in b.lower())
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        employees.append(Employee(slug, session.session_key, secrets.token_hex(16), member.pk))
    return employees


# --- The load ---------------------------------------------------------------------------------


@dataclass
class Upload:
    user: int
    seconds: float  # the upload request, sent to answered
    status: int
    verdict: str  # accepted / rejected / pending / error
    verdict_seconds: float | None = None  # sent to verdict known
    error: str = ""


@dataclass
class Phase:
    uploads: list[Upload] = field(default_factory=list)
    wall: float = 0.0


def _multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Uplink:
    """A request body sent no faster than a phone's uplink: ``bits_per_second`` (0: as fast
    as the socket takes it). File-like with a length and a position, so requests sends a
    Content-Length (not chunks) and reads it in blocks; each block waits for its time."""

    BLOCK = 64 * 1024

    def __init__(self, body: bytes, bits_per_second: float) -> None:
        self.body, self.rate, self.sent, self.began = body, bits_per_second / 8, 0, 0.0

    def __len__(self) -> int:
        return len(self.body)

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read():
            yield block

    def tell(self) -> int:
        return self.sent

    def read(self, size: int = -1) -> bytes:
        if not self.sent:
            self.began = time.monotonic()
        block = self.body[self.sent:self.sent + self.BLOCK]
        if self.rate and block:
            due = self.began + (self.sent + len(block)) / self.rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self.sent += len(block)
        return block


def _verdict_of(body: dict) -> tuple[str, dict]:
    result = (body.get("results") or [body])[0]
    if not result.get("ok"):
        return "error", result
    return result["selfie"]["status"], result["selfie"]


def _session(employee: Employee):
    import requests

    session = requests.Session()
    session.cookies.set("sessionid", employee.session, domain="127.0.0.1")
    session.cookies.set("csrftoken", employee.csrf, domain="127.0.0.1")
    return session


class Verdicts:
    """The verdicts of an employee's photos still being checked, asked for as upload.js
    does: all of them in one request (``selfies/status/?ids=…``), a second after the latest
    upload, then 1.5× longer each time, at most 5 s apart, while the next photos go up."""

    FIRST, GROWTH, LONGEST = 1.0, 1.5, 5.0

    def __init__(self, base: str, employee: Employee, deadline: float) -> None:
        self.url = f"{base}/c/{employee.slug}/selfies/status/"
        self.deadline = deadline
        self.session = _session(employee)
        self.waiting: dict[int, tuple[Upload, float]] = {}  # photo id → (upload, sent at)
        self.lock = threading.Lock()
        self.wait, self.due = self.FIRST, 0.0
        self.uploading = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def add(self, upload: Upload, started: float, photo: int) -> None:
        with self.lock:
            self.waiting[photo] = (upload, started)
            self.wait = self.FIRST
            self.due = min(self.due or float("inf"), time.monotonic() + self.FIRST)

    def finish(self) -> None:
        self.uploading = False
        self.thread.join()

    def _run(self) -> None:
        while time.monotonic() < self.deadline:
            with self.lock:
                if not self.waiting and not self.uploading:
                    return
                asking = list(self.waiting) if self.waiting and \
                    time.monotonic() >= self.due else []
            if asking:
                self._ask(asking)
            time.sleep(0.05)
        with self.lock:
            for upload, _ in self.waiting.values():
                upload.error = "no verdict before the deadline"

    def _ask(self, photos: list[int]) -> None:
        try:
            response = self.session.get(self.url, params={"ids": ",".join(map(str, photos))},
                                        headers={"Accept": "application/json"}, timeout=60)
            states = response.json().get("photos", {}) if response.status_code == 200 else {}
            failed = "" if response.status_code == 200 else f"status {response.status_code}"
        except (ValueError, OSError) as error:
            states, failed = {}, str(error)[:200]
        with self.lock:
            for photo in photos:
                state = (states.get(str(photo)) or {}).get("status", "error")
                if state == "pending" or photo not in self.waiting:
                    continue
                upload, started = self.waiting.pop(photo)
                upload.verdict, upload.error = state, failed
                upload.verdict_seconds = time.monotonic() - started
            self.wait = min(self.wait * self.GROWTH, self.LONGEST)
            self.due = time.monotonic() + self.wait


def upload_all(base: str, employee: Employee, user: int, photos: list[bytes], fmt: str,
               deadline: float, uplink_bps: float) -> list[Upload]:
    """One employee's photos, one request each, one after the other (as upload.js does),
    each body sent at the phone's uplink; a photo still being checked has its verdict asked
    for meanwhile, as the page does (``Verdicts``)."""
    import requests

    session = _session(employee)
    url = f"{base}/c/{employee.slug}/selfies/"
    headers = {"Accept": "application/json", "X-CSRFToken": employee.csrf, "Referer": url}
    verdicts = Verdicts(base, employee, deadline)
    done = []
    for n, data in enumerate(photos):
        if time.monotonic() > deadline:
            done.append(Upload(user, 0.0, 0, "error", error="not sent: out of time"))
            continue
        body, content_type = _multipart(data, f"IMG_{n:04d}.{fmt.upper()}")
        started = time.monotonic()
        try:
            response = session.post(url, data=Uplink(body, uplink_bps), timeout=120,
                                    headers={**headers, "Content-Type": content_type,
                                             "Content-Length": str(len(body))})
            seconds = time.monotonic() - started
            try:
                verdict, selfie = _verdict_of(response.json())
            except ValueError:
                verdict, selfie = "error", {"error": response.text[:200]}
            upload = Upload(user, seconds, response.status_code, verdict,
                            error="" if response.status_code == 200 else str(selfie)[:200])
            if verdict in ("accepted", "rejected"):
                upload.verdict_seconds = seconds
            elif verdict == "pending":
                verdicts.add(upload, started, selfie["id"])
            done.append(upload)
        except requests.RequestException as error:
            done.append(Upload(user, time.monotonic() - started, 0, "error", error=str(error)))
    verdicts.finish()
    return done


def run_phase(base: str, employees: list[Employee], photos: list[bytes], fmt: str,
              deadline: float, uplink_bps: float) -> Phase:
    phase = Phase()
    results: list[list[Upload]] = [[] for _ in employees]
    start = threading.Barrier(len(employees))

    def worker(index: int) -> None:
        start.wait()
        results[index] = upload_all(base, employees[index], index, photos, fmt, deadline,
                                    uplink_bps)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(len(employees))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic() + 30))
    phase.wall = time.monotonic() - started
    phase.uploads = [u for r in results for u in r]
    return phase


# --- Report ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(phase: Phase, expected: int) -> dict:
    times = [u.seconds for u in phase.uploads if u.status]
    verdicts = [u.verdict_seconds for u in phase.uploads if u.verdict_seconds is not None]
    errors = [u for u in phase.uploads if u.status != 200 or u.verdict != "accepted"]
    return {
        "uploads": len(phase.uploads), "expected": expected,
        "p50_s": statistics.median(times) if times else float("nan"), "p95_s": pct(times, 0.95),
        "max_s": max(times) if times else float("nan"),
        "verdict_p50_s": statistics.median(verdicts) if verdicts else float("nan"),
        "verdict_p95_s": pct(verdicts, 0.95), "wall_s": phase.wall,
        "errors": len(errors) + max(0, expected - len(phase.uploads)),
        "error_kinds": sorted({f"{u.status} {u.verdict} {u.error[:80]}".strip()
                               for u in errors})[:8],
    }


def _report(args, figures: dict[str, dict], crashes: list[str], before: str, after: str,
            goal: tuple[float, int, bool]) -> None:
    network = (f"each phone sending at {args.uplink_mbit:g} Mbit/s" if args.uplink_mbit
               else "no network (loopback speed)")
    print(f"Load benchmark: {args.users} employees × {args.photos} {args.format.upper()} "
          f"photos ({SIZE[0]}×{SIZE[1]}), {network}; "
          + ("nginx as production's ingress, then " if args.proxy == "nginx" else "")
          + f"gunicorn gthread {args.web_processes} processes × {args.web_threads} threads on "
          "PostgreSQL, " + (f"{args.intake_processes} intake process(es) per web process"
                            if args.intake_processes else "intake in the request"))
    print(f"Machine: {machine()}, Python {platform.python_version()}; load average "
          f"{before} before, {after} after")
    print()
    columns = list(figures)
    print(f"{'':<28}" + "".join(f"{name:>16}" for name in columns))
    rows = (("upload request p50", "p50_s"), ("upload request p95", "p95_s"),
            ("upload request max", "max_s"), ("verdict known p50", "verdict_p50_s"),
            ("verdict known p95", "verdict_p95_s"), ("phase wall time", "wall_s"))
    for label, key in rows:
        print(f"{label + ' (s)':<28}" + "".join(f"{figures[c][key]:>16.2f}" for c in columns))
    print(f"{'uploads (errors)':<28}" + "".join(
        f"{str(figures[c]['uploads']) + ' (' + str(figures[c]['errors']) + ')':>16}"
        for c in columns))
    for column in columns:
        for kind in figures[column]["error_kinds"]:
            print(f"  error ({column}): {kind}")
    for line in crashes[:10]:
        print(f"  server: {line[:160]}")
    if "capacity" in figures:
        done = figures["capacity"]
        print(f"\ncapacity (no network, not the goal): {done['uploads'] / done['wall_s']:.1f} "
              f"photos/s answered and checked; p95 answer {done['p95_s']:.2f} s "
              f"(≈ users × CPU per request / cores when nobody pauses)")
    ratio, errors, ok = goal
    print()
    print(f"goal: concurrent p95 ≤ 2 × single-user p95 (×{ratio:.2f}), 0 errors ({errors}): "
          f"{'PASS' if ok else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--photos", type=int, default=10, help="photos per employee")
    parser.add_argument("--format", choices=("jpeg", "heic"), default="jpeg")
    parser.add_argument("--uplink-mbit", type=float, default=20.0,
                        help="each phone's upload speed (default 20 Mbit/s, above the mobile "
                             "median); 0: no network, the old closed loop")
    parser.add_argument("--proxy", choices=("nginx", "none"), default="nginx",
                        help="nginx in front as production's ingress (default), or gunicorn "
                             "alone")
    parser.add_argument("--stress", action=argparse.BooleanOptionalAction, default=True,
                        help="then the capacity phase: as many others with no network")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/"
                        "likeness_load_bench")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL",
                                                              "redis://127.0.0.1:6379/15"))
    parser.add_argument("--web-processes", type=int,
                        default=int(os.environ.get("WEB_CONCURRENCY", 2)))
    parser.add_argument("--web-threads", type=int,
                        default=int(os.environ.get("GUNICORN_THREADS", 4)))
    parser.add_argument("--intake-processes", type=int,
                        default=int(os.environ.get("SELFIE_INTAKE_PROCESSES", 1)),
                        help="intake processes per web process, as production (default 1); "
                             "0 checks photos in the request")
    parser.add_argument("--max-seconds", type=int, default=900,
                        help="stop everything after this long (default 900)")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/likeness-bench"))
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.users <= 200 or not 1 <= args.photos <= 20:
        parser.error("--users 1-200, --photos 1-20 (at most 20 selfies a person)")
    if args.uplink_mbit < 0:
        parser.error("--uplink-mbit must be 0 or more")
    stress = args.stress and args.uplink_mbit > 0  # with no network the concurrent phase is it
    uplink = args.uplink_mbit * 1_000_000
    deadline = time.monotonic() + args.max_seconds

    photos = phone_photos(args.photos, args.format, args.cache_dir)
    media = Path(tempfile.mkdtemp(prefix="likeness-load-media-"))
    logdir = Path(tempfile.mkdtemp(prefix="likeness-load-log-"))
    env = server_environment(args, media)
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG",
                                           "DATABASE_URL", "REDIS_URL", "MEDIA_ROOT")})
    sys.path.insert(0, str(ROOT))
    database_create(args.database_url)
    server = proxy = None
    phases: dict[str, Phase] = {}
    at_server: list[float] = []
    cpu: dict[str, float] = {}
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env,
                       check=True, timeout=300)
        warmers = args.web_processes * 4
        employees = seed(warmers + 1 + args.users * (2 if stress else 1))
        warm, employees = employees[:warmers], employees[warmers:]
        single_one, employees = employees[:1], employees[1:]
        server = server_start(args, env, logdir)
        if args.proxy == "nginx":
            proxy = proxy_start(server.port, logdir)
        base = f"http://127.0.0.1:{proxy.port}" if proxy else server.base
        # Warm-up, not counted: each web process starts its intake process and loads the
        # face models on its first photos.
        run_phase(base, warm, photos[:3], args.format, deadline, 0)
        before = load_average()
        phases["single user"] = run_phase(base, single_one, photos, args.format, deadline,
                                          uplink)
        cpu_before = cpu_by_part(server, proxy)
        if proxy:
            proxy.upstream_seconds()
        phases["concurrent"] = run_phase(base, employees[:args.users], photos, args.format,
                                         deadline, uplink)
        at_server = proxy.upstream_seconds() if proxy else []
        cpu = {part: seconds - cpu_before[part]
               for part, seconds in cpu_by_part(server, proxy).items()}
        if stress:
            phases["capacity"] = run_phase(base, employees[args.users:], photos, args.format,
                                           deadline, 0)
        after = load_average()
    finally:
        if proxy is not None:
            proxy.stop()
        if server is not None:
            server.stop()
        if not args.keep_db:
            database_drop(args.database_url)
        shutil.rmtree(media, ignore_errors=True)
    crashes = (server.problems() if server else []) + (proxy.problems() if proxy else [])
    shutil.rmtree(logdir, ignore_errors=True)
    figures = {name: summary(phase, args.photos * (1 if name == "single user" else args.users))
               for name, phase in phases.items()}
    ratio = figures["concurrent"]["p95_s"] / figures["single user"]["p95_s"]
    errors = sum(f["errors"] for f in figures.values()) + len(crashes)
    ok = ratio <= 2.0 and errors == 0
    _report(args, figures, crashes, before, after, (ratio, errors, ok))
    if cpu:
        wall = phases["concurrent"].wall
        print(f"CPU during the concurrent phase ({wall:.0f} s × {os.cpu_count()} cores = "
              f"{wall * (os.cpu_count() or 1):.0f} core-seconds): " + ", ".join(
                  f"{part} {seconds:.1f} s" for part, seconds in cpu.items()))
    if at_server:
        print(f"of which gunicorn, once nginx had the whole photo (concurrent phase): p50 "
              f"{statistics.median(at_server):.2f} s, p95 {pct(at_server, 0.95):.2f} s")
    print("BENCH_JSON " + json.dumps({"figures": figures, "crashes": crashes[:20],
                                      "ratio": ratio, "machine": machine(), "cpu": cpu,
                                      "gunicorn_p95_s": pct(at_server, 0.95) if at_server else None,
                                      "load_before": before, "load_after": after,
                                      "args": {k: str(v) for k, v in vars(args).items()}}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
