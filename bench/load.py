"""Concurrent employees uploading selfies against gunicorn on PostgreSQL, one command.

    .venv/bin/python bench/load.py [--users 50] [--photos 10] [--database-url postgres://…/likeness_load_bench]

Creates a scratch PostgreSQL database (dropped at the end; its name must contain "bench"),
migrates it, seeds one company whose employees have all given consent, starts gunicorn as
production runs it (gthread, WEB_CONCURRENCY processes × GUNICORN_THREADS threads, DEBUG
off, PostgreSQL with persistent connections, Redis cache) on a free port of 127.0.0.1, and
then, as the page's uploader does (one request per photo, one after the other):

1. single user: one employee uploads `--photos` photos;
2. concurrent: `--users` employees upload `--photos` photos each, all starting together.

Each upload is a distinct 12 MP phone photo of a real face (../shared/faces), as JPEG (or
HEIC with --format heic). It prints the upload time per request (p50/p95) for both, the
time until each photo's verdict is known, the errors (any non-200 answer, a refused photo
that should have been accepted, a worker that crashed or timed out in gunicorn's log), the
machine and its load. Everything it starts is stopped at the end or after --max-seconds.
See bench/README.md.
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
        "--worker-tmp-dir", "/dev/shm", "--error-logfile", "-",
    ]
    handle = log.open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=handle,
                               start_new_session=True)
    server = Server(process, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited at start:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        server.stop()
        raise SystemExit("gunicorn did not start within 60 s")
    return server


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


def _verdict_of(body: dict) -> tuple[str, dict]:
    result = (body.get("results") or [body])[0]
    if not result.get("ok"):
        return "error", result
    return result["selfie"]["status"], result["selfie"]


def upload_all(server: Server, employee: Employee, user: int, photos: list[bytes],
               fmt: str, deadline: float, poll: float) -> list[Upload]:
    """One employee's photos, one request each, one after the other (as upload.js does);
    where a verdict is still pending, its status is polled until known."""
    import requests

    session = requests.Session()
    session.cookies.set("sessionid", employee.session, domain="127.0.0.1")
    session.cookies.set("csrftoken", employee.csrf, domain="127.0.0.1")
    url = f"{server.base}/c/{employee.slug}/selfies/"
    headers = {"Accept": "application/json", "X-CSRFToken": employee.csrf, "Referer": url}
    done, pending = [], []
    for n, data in enumerate(photos):
        if time.monotonic() > deadline:
            done.append(Upload(user, 0.0, 0, "error", error="not sent: out of time"))
            continue
        body, content_type = _multipart(data, f"IMG_{n:04d}.{fmt.upper()}")
        started = time.monotonic()
        try:
            response = session.post(url, data=body, timeout=120,
                                    headers={**headers, "Content-Type": content_type})
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
                pending.append((upload, started, selfie.get("status_url")))
            done.append(upload)
        except requests.RequestException as error:
            done.append(Upload(user, time.monotonic() - started, 0, "error", error=str(error)))
    for upload, started, status_url in pending:  # verdicts that arrive after the answer
        while time.monotonic() < deadline:
            response = session.get(f"{server.base}{status_url}", headers=headers, timeout=60)
            state = response.json().get("status") if response.status_code == 200 else "error"
            if state != "pending":
                upload.verdict = state
                upload.verdict_seconds = time.monotonic() - started
                break
            time.sleep(poll)
        else:
            upload.error = "no verdict before the deadline"
    return done


def run_phase(server: Server, employees: list[Employee], photos: list[bytes], fmt: str,
              deadline: float, poll: float) -> Phase:
    phase = Phase()
    results: list[list[Upload]] = [[] for _ in employees]
    start = threading.Barrier(len(employees))

    def worker(index: int) -> None:
        start.wait()
        results[index] = upload_all(server, employees[index], index, photos, fmt, deadline,
                                    poll)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--photos", type=int, default=10, help="photos per employee")
    parser.add_argument("--format", choices=("jpeg", "heic"), default="jpeg")
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
    parser.add_argument("--poll", type=float, default=0.5, help="verdict polling interval")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/likeness-bench"))
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.users <= 200 or not 1 <= args.photos <= 20:
        parser.error("--users 1-200, --photos 1-20 (at most 20 selfies a person)")
    deadline = time.monotonic() + args.max_seconds

    photos = phone_photos(args.photos, args.format, args.cache_dir)
    media = Path(tempfile.mkdtemp(prefix="likeness-load-media-"))
    logdir = Path(tempfile.mkdtemp(prefix="likeness-load-log-"))
    env = server_environment(args, media)
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG",
                                           "DATABASE_URL", "REDIS_URL", "MEDIA_ROOT")})
    sys.path.insert(0, str(ROOT))
    database_create(args.database_url)
    server = None
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env,
                       check=True, timeout=300)
        warmers = args.web_processes * 4
        employees = seed(args.users + 1 + warmers)
        warm, employees = employees[:warmers], employees[warmers:]
        server = server_start(args, env, logdir)
        # Warm-up, not counted: each web process starts its intake process and loads the
        # face models on its first photos.
        run_phase(server, warm, photos[:3], args.format, deadline, args.poll)
        before = load_average()
        single = run_phase(server, employees[-1:], photos, args.format, deadline, args.poll)
        many = run_phase(server, employees[:-1], photos, args.format, deadline, args.poll)
        after = load_average()
    finally:
        if server is not None:
            server.stop()
        if not args.keep_db:
            database_drop(args.database_url)
        shutil.rmtree(media, ignore_errors=True)
    crashes = server.problems() if server else []
    figures = {"single": summary(single, args.photos),
               "concurrent": summary(many, args.users * args.photos)}
    print(f"Load benchmark: {args.users} employees × {args.photos} {args.format.upper()} "
          f"photos ({SIZE[0]}×{SIZE[1]}), gunicorn gthread {args.web_processes} processes × "
          f"{args.web_threads} threads on PostgreSQL, "
          + (f"{args.intake_processes} intake process(es) per web process"
             if args.intake_processes else "intake in the request"))
    print(f"Machine: {machine()}, Python {platform.python_version()}; load average "
          f"{before} before, {after} after")
    print()
    print(f"{'':<28}{'single user':>16}{'concurrent':>16}")
    rows = (("upload request p50", "p50_s"), ("upload request p95", "p95_s"),
            ("upload request max", "max_s"), ("verdict known p50", "verdict_p50_s"),
            ("verdict known p95", "verdict_p95_s"), ("phase wall time", "wall_s"))
    for label, key in rows:
        print(f"{label + ' (s)':<28}{figures['single'][key]:>16.2f}"
              f"{figures['concurrent'][key]:>16.2f}")
    print(f"{'uploads (errors)':<28}"
          f"{str(figures['single']['uploads']) + ' (' + str(figures['single']['errors']) + ')':>16}"
          f"{str(figures['concurrent']['uploads']) + ' (' + str(figures['concurrent']['errors']) + ')':>16}")
    for kind in figures["concurrent"]["error_kinds"] + figures["single"]["error_kinds"]:
        print(f"  error: {kind}")
    for line in crashes[:10]:
        print(f"  gunicorn: {line[:160]}")
    ratio = figures["concurrent"]["p95_s"] / figures["single"]["p95_s"]
    errors = figures["single"]["errors"] + figures["concurrent"]["errors"] + len(crashes)
    ok = ratio <= 2.0 and errors == 0
    print()
    print(f"goal: concurrent p95 ≤ 2 × single-user p95 (×{ratio:.2f}), 0 errors ({errors}): "
          f"{'PASS' if ok else 'MISS'}")
    print("BENCH_JSON " + json.dumps({"figures": figures, "crashes": crashes[:20],
                                      "ratio": ratio, "machine": machine(),
                                      "load_before": before, "load_after": after,
                                      "args": {k: str(v) for k, v in vars(args).items()}}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
