"""make demo: run the collection end to end against the bundled Zoho Accounts emulator.

Starts the emulator (HTTPS on 127.0.0.1 with a throwaway CA), mints a self-client code in it,
runs the demo playbook(s) with ansible-playbook, prints what Zoho saw, and stops the emulator.
Nothing here talks to a real Zoho server. Secrets go to a 0600 vars file, never to the command line.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EMULATOR = REPO / "tests" / "emulator" / "zoho_accounts_emulator.py"
WORK = Path(os.environ.get("ZT_BUILD", REPO / ".build")) / "demo"


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def emulator(*args: str) -> str:
    done = subprocess.run([sys.executable, str(EMULATOR), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"emulator {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def playbook(path: Path, *args: str, inventory: str = "localhost,") -> str:
    """Run a playbook, show its output as it comes, and return it."""
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", inventory, str(path), *args]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    if inventory == "localhost,":
        env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
        command[3:3] = ["-c", "local"]
    done = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        sys.exit(f"{path.name} failed")
    return done.stdout


TOKEN = re.compile(r"1000\.[0-9a-f]{8,}\.[0-9a-f]{8,}")


def masked(text: str) -> str:
    """Show a token as its first characters and length only."""
    return TOKEN.sub(lambda m: f"{m.group(0)[:9]}…({len(m.group(0))} chars)", text)


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    state_dir = WORK / "emulator"
    client_id = "1000.DEMOCLIENT"
    client_secret = f"demo-secret-{secrets.token_hex(8)}"
    banner("Starting the Zoho Accounts emulator")
    info = json.loads(emulator("start", "--state-dir", str(state_dir), "--client", f"{client_id}:{client_secret}"))
    print(f"emulator at {info['url']} (CA {info['ca_path']})")
    try:
        admin = info["admin_url"]
        requests.post(f"{admin}/reset", json={}, verify=info["ca_path"], timeout=10).raise_for_status()
        requests.post(
            f"{admin}/clients", json={"client_id": client_id, "client_secret": client_secret}, verify=info["ca_path"], timeout=10
        ).raise_for_status()
        banner("Minting a self-client grant code (as the Zoho API console would)")
        code = emulator("mint-code", "--state-dir", str(state_dir), "--client-id", client_id, "--ttl", "300").strip()
        print(f"code minted: {code[:5]}... ({len(code)} characters, valid 5 minutes, single use)")

        vars_file = WORK / "demo-vars.json"
        token_cache = WORK / "controller-cache" / "tokens.json"
        if token_cache.exists():
            token_cache.unlink()
        fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {
                    "demo_client_id": client_id,
                    "demo_client_secret": client_secret,
                    "demo_accounts_url": info["url"],
                    "demo_ca_path": info["ca_path"],
                    "demo_code": code,
                    "demo_token_cache": str(token_cache),
                },
                handle,
            )

        banner("Modules: auth URL, exchange, refresh, revoke")
        playbook(HERE / "modules.yml", "-e", f"demo_vars_file={vars_file}")

        banner("Role thrive_tokens: three hosts (json, ini, env), first run")
        hosts_dir = WORK / "hosts"
        lines = ["[apps]"]
        for host, fmt in (("app-json", "json"), ("app-ini", "ini"), ("app-env", "env")):
            (hosts_dir / host).mkdir(parents=True, exist_ok=True)
            config = hosts_dir / host / f"app.{fmt}"
            if config.exists():
                config.unlink()
            lines.append(
                f"{host} ansible_connection=local ansible_python_interpreter=/usr/bin/python3 "
                f"thrive_tokens_config_format={fmt} thrive_tokens_config_path={config}"
            )
        (WORK / "inventory.ini").write_text("\n".join(lines) + "\n")
        role_cache = WORK / "controller-cache" / "role-tokens.json"
        if role_cache.exists():
            role_cache.unlink()
        role_code = emulator("mint-code", "--state-dir", str(state_dir), "--client-id", client_id, "--ttl", "300").strip()
        variables = json.loads(vars_file.read_text())
        variables.update(demo_role_code=role_code, demo_role_token_cache=str(role_cache))
        vars_file.write_text(json.dumps(variables))
        role_args = ("-e", f"demo_vars_file={vars_file}")
        playbook(HERE / "role.yml", *role_args, "--diff", inventory=str(WORK / "inventory.ini"))

        banner("The files on the hosts (tokens masked)")
        for config in sorted(hosts_dir.glob("*/app.*")):
            mode = oct(config.stat().st_mode & 0o777)
            print(f"--- {config.relative_to(WORK)} (mode {mode})")
            print(masked(config.read_text()).rstrip())

        banner("Role thrive_tokens: second run (nothing to do)")
        second = playbook(HERE / "role.yml", *role_args, inventory=str(WORK / "inventory.ini"))
        changed = re.findall(r"changed=(\d+)", second)
        print(f"changed per host on the second run: {changed} -> {'idempotent' if set(changed) == {'0'} else 'NOT idempotent'}")
        if set(changed) != {"0"}:
            sys.exit("the second run changed something")

        banner("What the emulator saw")
        state = requests.get(f"{admin}/state", verify=info["ca_path"], timeout=10).json()
        log = requests.get(f"{admin}/log", verify=info["ca_path"], timeout=10).json()["requests"]
        print(
            f"token requests: {state['token_requests']}, exchanges: {state['exchanges']} (one by the modules demo, one by the "
            f"role for three hosts), refreshes: {state['refreshes']}, revokes: {state['revokes']}"
        )
        print(f"secrets in any URL query string: {sum(1 for entry in log if entry['query_string'])}")
    finally:
        banner("Stopping the emulator")
        emulator("stop", "--state-dir", str(state_dir))


if __name__ == "__main__":
    main()
