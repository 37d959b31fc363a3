# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""make bench: what the role, the modules and the lookup cost next to hand-written playbooks.

A benchmark, not a test: it prints figures and never fails on a time. It fails only when a run
it times did not do its job (a failed playbook, a re-run that changed something, a Zoho call
count that is not what the figure assumes), because such a time would mean nothing.

It starts the Zoho Accounts emulator (tests/emulator, HTTPS with TLS verification on) and a real
OpenBao dev server (tests/openbao), builds N local-connection hosts (ansible_connection=local,
each with its own config file in a temporary directory), and runs real ansible-playbook
processes with the playbooks in tests/bench/playbooks. Every figure compares two (or three)
playbooks run interleaved, A B A B ..., after one untimed warm-up run of each, and prints the
medians. Wall time is the whole ansible-playbook process; task time is one task's span, from the
bench_timer callback in tests/bench/callback_plugins.

    .venv/bin/python tests/bench/run_bench.py [--hosts 50] [--reps 3] [--light-reps 7] [--forks 10] [--only NAME ...]

Defaults come from the environment too: ZT_BENCH_HOSTS, ZT_BENCH_REPS, ZT_BENCH_LIGHT_REPS,
ZT_BENCH_FORKS. Secrets go to 0600 vars files, never to a command line.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLAYBOOKS = HERE / "playbooks"
EMULATOR = REPO / "tests" / "emulator" / "zoho_accounts_emulator.py"
BIN = Path(sys.executable).parent
TARGET_PYTHON = "/usr/bin/python3"  # the hosts' interpreter, as in tests/system (a bare system Python)

sys.path.insert(0, str(REPO / "tests" / "openbao"))
import openbao  # noqa: E402  pylint: disable=wrong-import-position

FIGURES = ("rerun", "first", "calls", "mint")  # --only names; "mint" includes the lookup row
KV_MOUNT = "zt-bench"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def write_private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def median(values: t.Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclasses.dataclass
class Run:
    """One ansible-playbook process: its wall time, its per-task timings and its Zoho calls."""

    label: str
    wall: float
    tasks: list[dict[str, t.Any]]
    recap: dict[str, dict[str, int]]
    zoho_calls: int
    output: str

    def task_span(self, name: str) -> float:
        spans = [task["span"] for task in self.tasks if task["name"] == name]
        if not spans:
            raise KeyError(f"no task named {name!r} in the run {self.label}")
        return spans[0]

    def changed_hosts(self) -> set[str]:
        return {host for host, counts in self.recap.items() if counts.get("changed")}


@dataclasses.dataclass
class Figure:
    name: str
    basis: str  # "wall" or "task"
    runs_a: list[float]
    runs_b: list[float]
    goal: float | None  # the ratio to stay at or under; None: printed for information

    @property
    def ratio(self) -> float:
        return median(self.runs_a) / median(self.runs_b)

    def met(self) -> str:
        if self.goal is None:
            return "-"
        return "yes" if self.ratio <= self.goal else "NO"


class BenchError(RuntimeError):
    """A timed run did not do its job; its time would mean nothing."""


class Emulator:
    """The Zoho Accounts emulator, started and stopped by the CLI in tests/emulator."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.client_id = f"1000.BENCH{uuid.uuid4().hex[:12].upper()}"
        self.client_secret = f"bench-secret-{uuid.uuid4().hex}"
        self.users = 0
        info = json.loads(self._cli("start", "--clients-file", "-", stdin=f"{self.client_id}:{self.client_secret}\n"))
        self.url: str = info["url"]
        self.admin_url: str = info["admin_url"]
        self.ca_path: str = info["ca_path"]
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = self.ca_path

    def _cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, str(EMULATOR), args[0], "--state-dir", str(self.state_dir), *args[1:]],
            input=stdin, capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"emulator {args[0]} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def stop(self) -> None:
        self._cli("stop")

    def admin(self, method: str, path: str, payload: dict[str, t.Any] | None = None) -> t.Any:
        response = self.session.request(method, f"{self.admin_url}/{path}", json=payload, timeout=30)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self.admin("GET", "state"))

    def token_requests(self) -> int:
        return int(self.state()["token_requests"])

    def code(self) -> str:
        """A new grant code, for a user of its own: Zoho keeps at most 20 live refresh tokens per user and client, and
        evicts the oldest beyond that (zoho-oauth-facts section 6), which would kill tokens that later runs still use."""
        self.users += 1
        return str(self.admin("POST", "codes", {"client_id": self.client_id, "ttl": 600, "user": f"bench-user-{self.users}"})["code"])

    def refresh_token(self) -> str:
        """A new refresh token, exchanged here (outside any timed run), for the minting figures."""
        response = self.session.post(
            f"{self.url}/oauth/v2/token",
            data={"grant_type": "authorization_code", "client_id": self.client_id, "client_secret": self.client_secret, "code": self.code()},
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["refresh_token"])


class Fleet:
    """N local-connection hosts, each with its own directory for its config files."""

    def __init__(self, root: Path, count: int) -> None:
        self.root = root
        self.hosts = [f"h{number:03d}" for number in range(1, count + 1)]
        lines = ["[apps]"]
        for host in self.hosts:
            self.dir(host).mkdir(parents=True, exist_ok=True)
            lines.append(f"{host} ansible_connection=local ansible_python_interpreter={TARGET_PYTHON} bench_dir={self.dir(host)}")
        self.inventory = root / "inventory.ini"
        self.inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def dir(self, host: str) -> Path:
        return self.root / "hosts" / host

    def remove(self, case: str) -> None:
        """Delete every host's file of `case`, so that the next run is a first run on the hosts."""
        for host in self.hosts:
            for leftover in self.dir(host).glob(f"{case}.json*"):
                leftover.unlink()


class Bench:
    """The figures, the runs behind them, and the servers they talk to."""

    def __init__(self, args: argparse.Namespace, work: Path, emulator: Emulator, bao: openbao.OpenBao) -> None:
        self.args = args
        self.work = work
        self.runs: list[Run] = []
        self.figures: list[Figure] = []
        self.calls: list[tuple[str, int, str, int, str]] = []  # (store, hosts, run, Zoho calls, expected)
        self.breakdowns: dict[str, list[Run]] = {}
        self.notes: list[str] = []
        self.warm: set[str] = set()  # playbooks that have had their untimed warm-up run
        (work / "home").mkdir()
        self.collections_path = self._collections_path()
        self.emulator = emulator
        self.bao = bao
        self.bao.enable_kv(KV_MOUNT)
        policy = "zt-bench"
        self.bao.put_policy(policy, openbao.kv2_policy(KV_MOUNT, "bench"))
        self.vault_token = self.bao.create_token([policy], ttl="4h")
        controller = work / "controller.ini"
        controller.write_text(f"[controller]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}\n", encoding="utf-8")
        self.controller_inventory = controller

    # --- running playbooks ------------------------------------------------------------------

    def _collections_path(self) -> str:
        """ANSIBLE_COLLECTIONS_PATH when it holds zohothrive.oauth (make bench: .build), else this checkout."""
        configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
        for entry in configured.split(os.pathsep):
            if entry and (Path(entry) / "ansible_collections" / "zohothrive" / "oauth" / "galaxy.yml").is_file():
                return configured
        root = self.work / "collections" / "ansible_collections" / "zohothrive"
        root.mkdir(parents=True)
        (root / "oauth").symlink_to(REPO)
        return str(self.work / "collections")

    def collection_file(self, relative: str) -> Path | None:
        for entry in self.collections_path.split(os.pathsep):
            candidate = Path(entry) / "ansible_collections" / "zohothrive" / "oauth" / relative
            if entry and candidate.is_file():
                return candidate
        return None

    def playbook(self, label: str, playbook: str, variables: dict[str, t.Any], inventory: Path, *, record: bool = True) -> Run:
        vars_file = write_private(self.work / "vars" / f"{uuid.uuid4().hex}.json", json.dumps(variables))
        timer_file = self.work / "timer" / f"{uuid.uuid4().hex}.json"
        timer_file.parent.mkdir(parents=True, exist_ok=True)
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "ZOHO_THRIVE_", "VAULT_"))}
        environment.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": self.collections_path,
                "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
                "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-local"),
                # The hosts' temporary files (the local connection would use the user's ~/.ansible/tmp).
                "ANSIBLE_REMOTE_TMP": str(self.work / "remote-tmp"),
                "HOME": str(self.work / "home"),  # nothing of these runs lands in the user's home
                "ZT_BENCH_TIMER_FILE": str(timer_file),
            }
        )
        command = [
            str(BIN / "ansible-playbook"), "-i", str(inventory), "-f", str(self.args.forks), "-e", f"@{vars_file}", str(PLAYBOOKS / playbook)
        ]
        before = self.emulator.token_requests()
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=self.work, check=False)
        wall = time.perf_counter() - started
        calls = self.emulator.token_requests() - before
        vars_file.unlink()
        output = done.stdout + done.stderr
        if done.returncode != 0:
            raise BenchError(f"{label}: ansible-playbook {playbook} failed (exit {done.returncode}):\n{output[-6000:]}")
        timer = json.loads(timer_file.read_text(encoding="utf-8"))
        recap = {
            host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", rest)}
            for host, rest in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", done.stdout, flags=re.MULTILINE)
        }
        run = Run(label, wall, timer["tasks"], recap, calls, output)
        if record:
            self.runs.append(run)
        if self.args.verbose:
            print(f"    {label}: {wall:.2f} s wall, {calls} Zoho call(s)", flush=True)
        return run

    # --- variables --------------------------------------------------------------------------

    def role_vars(self, store: str, case: str, code: str, vault_path: str) -> dict[str, t.Any]:
        variables: dict[str, t.Any] = {
            "bench_case": case,
            "thrive_tokens_client_id": self.emulator.client_id,
            "thrive_tokens_client_secret": self.emulator.client_secret,
            "thrive_tokens_accounts_url": self.emulator.url,
            "thrive_tokens_ca_path": self.emulator.ca_path,
            "thrive_tokens_grant_code": code,
            "thrive_tokens_store": store,
        }
        if store == "file":
            variables["thrive_tokens_token_cache"] = str(self.work / "controller" / f"{case}.json")
        else:
            variables.update(
                thrive_tokens_vault_url=self.bao.addr,
                thrive_tokens_vault_token=self.vault_token,
                thrive_tokens_vault_engine_mount_point=KV_MOUNT,
                thrive_tokens_vault_path=vault_path,
            )
        return variables

    def zoho_vars(self, **extra: t.Any) -> dict[str, t.Any]:
        return {
            "bench_client_id": self.emulator.client_id,
            "bench_client_secret": self.emulator.client_secret,
            "bench_accounts_url": self.emulator.url,
            "bench_ca_path": self.emulator.ca_path,
            **extra,
        }

    # --- checks -----------------------------------------------------------------------------

    @staticmethod
    def expect(run: Run, *, calls: int, changed: t.Collection[str] | None = None) -> None:
        """Refuse a run that did not do the job its figure assumes: `calls` requests to Zoho, exactly the `changed` hosts."""
        if run.zoho_calls != calls:
            raise BenchError(f"{run.label}: {run.zoho_calls} request(s) to Zoho, expected {calls}")
        if changed is not None and run.changed_hosts() != set(changed):
            raise BenchError(f"{run.label}: changed hosts {sorted(run.changed_hosts())}, expected {sorted(changed)}")

    # --- figures ----------------------------------------------------------------------------

    def warm_up(self, label: str, playbook: str, variables: dict[str, t.Any], inventory: Path, *, calls: int, changed: t.Collection[str] | None) -> None:
        """One untimed run of a playbook not run yet (byte code, page cache, ansible's caches), checked like a timed one."""
        if playbook not in self.warm:
            self.expect(self.playbook(f"warm-up {label}", playbook, variables, inventory, record=False), calls=calls, changed=changed)
            self.warm.add(playbook)

    def rerun(self, fleet: Fleet) -> None:
        """Role re-run (file and vault store) / one `copy` task that changes nothing, interleaved."""
        print(f"\n--- role re-run / one copy task, N={len(fleet.hosts)}: first runs (untimed), then {self.args.reps} interleaved rounds", flush=True)
        file_vars = self.role_vars("file", "rerun-file", self.emulator.code(), "")
        vault_vars = self.role_vars("vault", "rerun-vault", self.emulator.code(), "bench/rerun")
        # The first runs that the re-runs repeat; they also serve as the warm-up runs.
        self.warm.add("role.yml")
        self.expect(self.playbook("role first run (file), setup", "role.yml", file_vars, fleet.inventory, record=False), calls=1, changed=fleet.hosts)
        self.expect(self.playbook("role first run (vault), setup", "role.yml", vault_vars, fleet.inventory, record=False), calls=1, changed=fleet.hosts)
        values = json.loads((fleet.dir(fleet.hosts[0]) / "rerun-file.json").read_text(encoding="utf-8"))
        copy_vars = {"bench_case": "rerun-copy", "bench_values": values}
        self.warm.add("copy.yml")
        self.expect(self.playbook("copy, setup", "copy.yml", copy_vars, fleet.inventory, record=False), calls=0, changed=fleet.hosts)
        role_file: list[Run] = []
        role_vault: list[Run] = []
        copies: list[Run] = []
        for number in range(1, self.args.reps + 1):
            for runs, label, playbook, variables in (
                (role_file, "role re-run (file)", "role.yml", file_vars),
                (role_vault, "role re-run (vault)", "role.yml", vault_vars),
                (copies, "copy", "copy.yml", copy_vars),
            ):
                run = self.playbook(f"{label} #{number}", playbook, variables, fleet.inventory)
                self.expect(run, calls=0, changed=())
                runs.append(run)
        self.calls.append(("file", len(fleet.hosts), "re-run", max(run.zoho_calls for run in role_file), "0"))
        self.calls.append(("vault", len(fleet.hosts), "re-run", max(run.zoho_calls for run in role_vault), "0"))
        copy_walls = [run.wall for run in copies]
        self.figures.append(Figure("role re-run / one copy task, file store", "wall", [run.wall for run in role_file], copy_walls, 1.0))
        self.figures.append(Figure("role re-run / one copy task, vault store", "wall", [run.wall for run in role_vault], copy_walls, 1.0))
        self.breakdowns["role re-run, file store"] = role_file
        self.breakdowns["role re-run, vault store"] = role_vault
        self.breakdowns["one copy task (re-run baseline)"] = copies

    def first(self, fleet: Fleet) -> None:
        """Role first run (vault and file store) / uri run_once + copy, interleaved; fresh code, store and files each time."""
        print(f"\n--- role first run / uri + copy, N={len(fleet.hosts)}: {self.args.reps} interleaved rounds", flush=True)
        rounds = iter(range(1, 1_000_000))

        def role_vars(store: str) -> dict[str, t.Any]:
            case = f"first-{store}"
            fleet.remove(case)
            cache = self.work / "controller" / f"{case}.json"
            if cache.exists():
                cache.unlink()
            # A new code, no host file, an empty store (a new vault secret): a real first run.
            return self.role_vars(store, case, self.emulator.code(), f"bench/first-{next(rounds)}")

        def uri_vars() -> dict[str, t.Any]:
            fleet.remove("first-uri")
            return self.zoho_vars(bench_case="first-uri", bench_code=self.emulator.code())

        self.warm_up("role first run (vault)", "role.yml", role_vars("vault"), fleet.inventory, calls=1, changed=fleet.hosts)
        self.warm_up("uri + copy", "uri_copy.yml", uri_vars(), fleet.inventory, calls=1, changed=fleet.hosts)
        vault_runs: list[Run] = []
        file_runs: list[Run] = []
        uri_runs: list[Run] = []
        for number in range(1, self.args.reps + 1):
            for runs, label, playbook, make_vars in (
                (vault_runs, "role first run (vault)", "role.yml", lambda: role_vars("vault")),
                (file_runs, "role first run (file)", "role.yml", lambda: role_vars("file")),
                (uri_runs, "uri + copy", "uri_copy.yml", uri_vars),
            ):
                run = self.playbook(f"{label} #{number}", playbook, make_vars(), fleet.inventory)
                self.expect(run, calls=1, changed=fleet.hosts)
                runs.append(run)
        self.calls.append(("file", len(fleet.hosts), "first run", max(run.zoho_calls for run in file_runs), "1"))
        self.calls.append(("vault", len(fleet.hosts), "first run", max(run.zoho_calls for run in vault_runs), "1"))
        uri_walls = [run.wall for run in uri_runs]
        self.figures.append(Figure("role first run / uri run_once + copy, vault store", "wall", [run.wall for run in vault_runs], uri_walls, 1.15))
        self.figures.append(Figure("role first run / uri run_once + copy, file store", "wall", [run.wall for run in file_runs], uri_walls, None))
        self.breakdowns["role first run, vault store"] = vault_runs
        self.breakdowns["role first run, file store"] = file_runs
        self.breakdowns["uri run_once + copy (first-run baseline)"] = uri_runs

    def zoho_calls(self, fleet: Fleet) -> None:
        """Requests to Zoho of a first run and a re-run of the role, on a small fleet (the big one is counted by the timed figures)."""
        print(f"\n--- Zoho calls, N={len(fleet.hosts)}: first run and re-run, file and vault store", flush=True)
        for store in ("file", "vault"):
            variables = self.role_vars(store, f"calls-{store}", self.emulator.code(), "bench/calls")
            first = self.playbook(f"role first run ({store}), N={len(fleet.hosts)}", "role.yml", variables, fleet.inventory, record=False)
            again = self.playbook(f"role re-run ({store}), N={len(fleet.hosts)}", "role.yml", variables, fleet.inventory, record=False)
            self.calls.append((store, len(fleet.hosts), "first run", first.zoho_calls, "1"))
            self.calls.append((store, len(fleet.hosts), "re-run", again.zoho_calls, "0"))

    def lookup_setup(self) -> dict[str, dict[str, t.Any]]:
        """Variables of the lookup playbooks whose store now holds a valid access token; {} when the plugin is missing or fails."""
        if self.collection_file("plugins/lookup/access_token.py") is None:
            self.notes.append("lookup cache hit / that uri POST: not available (the collection has no plugins/lookup/access_token.py)")
            return {}
        stores = {
            "lookup.yml": self.zoho_vars(bench_refresh_token=self.emulator.refresh_token(), bench_token_cache=str(self.work / "controller" / "lookup.json")),
            "lookup_vault.yml": self.zoho_vars(
                bench_refresh_token=self.emulator.refresh_token(),
                bench_vault_url=self.bao.addr,
                bench_vault_token=self.vault_token,
                bench_vault_mount=KV_MOUNT,
                bench_vault_path="bench/lookup",
            ),
        }
        try:
            for playbook, variables in stores.items():
                self.expect(self.playbook(f"{playbook}, fills the store", playbook, variables, self.controller_inventory, record=False), calls=1)
                self.warm_up(playbook, playbook, variables, self.controller_inventory, calls=0, changed=None)
        except BenchError as exc:
            self.notes.append(f"lookup cache hit / that uri POST: not available, the lookup failed: {str(exc).splitlines()[0]}")
            if self.args.verbose:
                print(exc)
            return {}
        return stores

    def mint(self) -> None:
        """zoho_thrive_refresh minting / uri POSTing the same refresh grant; lookup cache hit / that uri POST; interleaved."""
        print(f"\n--- minting: module / uri / lookup hit (file, vault): {self.args.light_reps} interleaved rounds", flush=True)
        lookups = self.lookup_setup()
        for playbook in ("mint_module.yml", "mint_uri.yml"):
            variables = self.zoho_vars(bench_refresh_token=self.emulator.refresh_token())
            self.warm_up(playbook, playbook, variables, self.controller_inventory, calls=1, changed=None)
        runs: dict[str, list[Run]] = {name: [] for name in ("mint_module.yml", "mint_uri.yml", *lookups)}
        for number in range(1, self.args.light_reps + 1):
            # A new refresh token each round: it mints twice here, far from Zoho's 10 per 10 minutes.
            variables = self.zoho_vars(bench_refresh_token=self.emulator.refresh_token())
            for playbook in runs:
                minting = playbook.startswith("mint_")
                run = self.playbook(f"{playbook} #{number}", playbook, variables if minting else lookups[playbook], self.controller_inventory)
                self.expect(run, calls=1 if minting else 0)  # a lookup hit sends nothing
                runs[playbook].append(run)
        uri_spans = [run.task_span("POST the refresh grant to Zoho Accounts") for run in runs["mint_uri.yml"]]
        uri_walls = [run.wall for run in runs["mint_uri.yml"]]
        modules = runs["mint_module.yml"]
        module_spans = [run.task_span("Mint an access token from the refresh token") for run in modules]
        self.figures.append(Figure("zoho_thrive_refresh minting / uri POST of the same refresh grant", "task", module_spans, uri_spans, 1.05))
        self.figures.append(Figure("  the same, whole ansible-playbook processes", "wall", [run.wall for run in modules], uri_walls, None))
        if lookups:
            hits = runs["lookup.yml"]
            hit_spans = [run.task_span("Look up an access token") for run in hits]
            self.figures.append(Figure("lookup cache hit (file store) / that uri POST", "task", hit_spans, uri_spans, 0.2))
            self.figures.append(Figure("  the same, whole ansible-playbook processes", "wall", [run.wall for run in hits], uri_walls, None))
            hit_spans = [run.task_span("Look up an access token") for run in runs["lookup_vault.yml"]]
            self.figures.append(Figure("  lookup cache hit, vault store / that uri POST", "task", hit_spans, uri_spans, None))

    # --- report -----------------------------------------------------------------------------

    def environment(self) -> list[str]:
        import ansible.release  # pylint: disable=import-outside-toplevel

        try:
            hvac_version = importlib.metadata.version("hvac")
        except importlib.metadata.PackageNotFoundError:
            hvac_version = "not installed"
        target = subprocess.run([TARGET_PYTHON, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True, check=False)
        bao_version = " ".join(subprocess.run([str(openbao.find_bao()), "version"], capture_output=True, text=True, check=False).stdout.split()[:2])
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return [
            f"CPUs: {os.cpu_count()} (usable by this process: {affinity}); load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            f"controller: Python {platform.python_version()} ({sys.executable}), ansible-core {ansible.release.__version__}, hvac {hvac_version}",
            f"hosts: ansible_connection=local, Python {target.stdout.strip() or '?'} ({TARGET_PYTHON}); forks: -f {self.args.forks} for every run",
            f"vault: {bao_version or 'OpenBao'} dev server on {self.bao.addr} (KV v2 mount {KV_MOUNT}, a token limited to bench/)",
            f"Zoho: emulator at {self.emulator.url}, TLS verified against its CA",
            f"collection: {self.collections_path}",
        ]

    def report(self) -> None:
        print("\n=== environment ===")
        for line in self.environment():
            print(f"  {line}")
        print(
            f"\n=== figures: medians of interleaved runs (N={self.args.hosts} hosts: {self.args.reps} rounds; minting: {self.args.light_reps} rounds), "
            "after one untimed warm-up run of each ==="
        )
        header = f"{'figure':<66} {'basis':<5} {'ratio':>7} {'median A s':>11} {'median B s':>11} {'A range':>13} {'B range':>13} {'goal':>7} {'met':>4}"
        print(header)
        print("-" * len(header))
        for figure in self.figures:
            goal = f"<= {figure.goal:.2f}" if figure.goal is not None else "print"
            print(
                f"{figure.name:<66} {figure.basis:<5} {figure.ratio:>6.2f}x {median(figure.runs_a):>11.3f} {median(figure.runs_b):>11.3f} "
                f"{min(figure.runs_a):>6.2f}-{max(figure.runs_a):<6.2f} {min(figure.runs_b):>6.2f}-{max(figure.runs_b):<6.2f} {goal:>7} {figure.met():>4}"
            )
        for note in self.notes:
            print(f"{note}")
        print("wall: the whole ansible-playbook process; task: the task's span (bench_timer callback). A is the first playbook named, B the second.")
        if self.calls:
            print("\n=== Zoho calls of the role (token requests the emulator received per run) ===")
            print(f"{'store':<6} {'hosts':>5} {'run':<10} {'calls':>5} {'goal':>5}")
            for store, hosts, kind, calls, goal in sorted(self.calls, key=lambda row: (row[0], row[1], row[2] != "first run")):
                print(f"{store:<6} {hosts:>5} {kind:<10} {calls:>5} {goal:>5}{'' if str(calls) == goal else '  NOT MET'}")
        state = self.emulator.state()
        print(
            "\n=== emulator /_emulator/state at the end ===\n"
            + "  "
            + ", ".join(f"{key}: {state[key]}" for key in ("token_requests", "exchanges", "refreshes", "revokes", "requests", "evictions"))
        )
        if self.breakdowns:
            self.print_breakdowns()
        if self.args.keep:
            runs = [{key: value for key, value in dataclasses.asdict(run).items() if key != "output"} for run in self.runs]
            (self.work / "runs.json").write_text(json.dumps(runs, indent=1), encoding="utf-8")

    def print_breakdowns(self) -> None:
        print("\n=== where the time goes: median span per task (s), module runs per run ===")
        for title, runs in self.breakdowns.items():
            walls = [run.wall for run in runs]
            spans: dict[str, list[float]] = {}
            module_runs: dict[str, int] = {}
            order: list[str] = []
            startup = []
            for run in runs:
                total = sum(task["span"] for task in run.tasks)
                startup.append(run.wall - total)
                for task in run.tasks:
                    key = task["name"]
                    if key not in spans:
                        spans[key] = []
                        order.append(key)
                    spans[key].append(task["span"])
                    module_runs[key] = max(module_runs.get(key, 0), task["module_runs"])
            print(f"\n{title}: wall median {median(walls):.2f} s; outside any task (start-up, parsing, exit) {median(startup):.2f} s")
            for key in order:
                print(f"  {median(spans[key]):7.3f}  {module_runs[key]:>3} module run(s)  {key}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=env_int("ZT_BENCH_HOSTS", 50), help="hosts for the timed role figures (ZT_BENCH_HOSTS, 50)")
    parser.add_argument("--small-hosts", type=int, default=5, help="hosts for the small Zoho call count (5)")
    parser.add_argument("--reps", type=int, default=env_int("ZT_BENCH_REPS", 3), help="interleaved rounds of the role figures (ZT_BENCH_REPS, 3)")
    light_help = "interleaved rounds of the minting and lookup figures (ZT_BENCH_LIGHT_REPS, 7)"
    parser.add_argument("--light-reps", type=int, default=env_int("ZT_BENCH_LIGHT_REPS", 7), help=light_help)
    parser.add_argument("--forks", type=int, default=env_int("ZT_BENCH_FORKS", 10), help="ansible-playbook -f for every run (ZT_BENCH_FORKS, 10)")
    parser.add_argument("--only", action="append", choices=FIGURES, help="run only these figures (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (hosts' files, timings)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each run's time as it ends")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.light_reps < 1 or args.hosts < 1 or args.forks < 1:
        parser.error("--hosts, --reps, --light-reps and --forks must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = set(args.only or FIGURES)
    work = Path(tempfile.mkdtemp(prefix="zt-bench-"))
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as servers:
            emulator = Emulator(work / "emulator")
            servers.callback(emulator.stop)
            bao = openbao.start(work / "openbao")
            servers.callback(bao.stop)
            bench = Bench(args, work, emulator, bao)
            print(f"zohothrive.oauth benchmark in {work}: N={args.hosts}, {args.reps} rounds (minting: {args.light_reps}), -f {args.forks}", flush=True)
            if "rerun" in only or "first" in only:
                fleet = Fleet(work / "fleet", args.hosts)
                if "rerun" in only:
                    bench.rerun(fleet)
                if "first" in only:
                    bench.first(fleet)
            if "calls" in only:
                bench.zoho_calls(Fleet(work / "small-fleet", args.small_hosts))
            if "mint" in only:
                bench.mint()
            bench.report()
        print(f"\ntotal time: {time.perf_counter() - started:.0f} s")
        return 0
    except (BenchError, openbao.OpenBaoError) as exc:
        print(f"\nbenchmark stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
