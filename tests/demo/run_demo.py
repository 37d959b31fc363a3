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
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EMULATOR = REPO / "tests" / "emulator" / "zoho_accounts_emulator.py"
WORK = Path(os.environ.get("ZT_BUILD", REPO / ".build")) / "demo"


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def emulator(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, str(EMULATOR), *args], input=stdin, capture_output=True, text=True, check=False)
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


def ansible_tool(name: str, *args: str, **kwargs: t.Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / name), *args], check=True, text=True, capture_output=True, **kwargs)


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def write_vault(vault_file: Path, password_file: Path, values: dict[str, str]) -> None:
    """Write ``values`` as an Ansible Vault encrypted vars file (the clear text never touches the disk)."""
    plain = "".join(f"{name}: {json.dumps(value)}\n" for name, value in values.items())
    encrypted = ansible_tool("ansible-vault", "encrypt", "--vault-password-file", str(password_file), "--output", "-", "-", input=plain)
    write_private(vault_file, encrypted.stdout)


def token_requests(info: dict[str, t.Any]) -> dict[str, int]:
    state = requests.get(f"{info['admin_url']}/state", verify=info["ca_path"], timeout=10).json()
    return {name: state[name] for name in ("token_requests", "exchanges", "refreshes", "revokes")}


def show_files(hosts_dir: Path) -> None:
    for config in sorted(hosts_dir.glob("*/app.*")):
        mode = oct(config.stat().st_mode & 0o777)
        print(f"--- {config.relative_to(WORK)} (mode {mode})")
        print(masked(config.read_text()).rstrip())


def changed_counts(output: str) -> list[str]:
    return re.findall(r"changed=(\d+)", output)


def run_role_demo(state_dir: Path, info: dict[str, t.Any], client_id: str, client_secret: str) -> None:
    """The role's main job: vault, first run, re-run, --check --diff with a new code, rotation."""
    project = WORK / "role-project"
    hosts_dir = project / "hosts"
    inventory = project / "inventory.ini"
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
    inventory.write_text("\n".join(lines) + "\n")
    token_cache = project / "controller" / "thrive_tokens.json"
    if token_cache.exists():
        token_cache.unlink()
    (project / "group_vars" / "apps").mkdir(parents=True, exist_ok=True)
    (project / "group_vars" / "apps" / "main.yml").write_text(
        "# Plain settings. Only the emulator needs accounts_url and ca_path; real use sets thrive_tokens_data_center.\n"
        f"thrive_tokens_accounts_url: {json.dumps(info['url'])}\n"
        f"thrive_tokens_ca_path: {json.dumps(info['ca_path'])}\n"
        f"thrive_tokens_token_cache: {json.dumps(str(token_cache))}\n"
    )
    password_file = project / "vault-password"
    write_private(password_file, secrets.token_urlsafe(24) + "\n")
    vault_file = project / "group_vars" / "apps" / "vault.yml"

    def mint() -> str:
        return emulator("mint-code", "--state-dir", str(state_dir), "--client-id", client_id, "--ttl", "300").strip()

    def run(*args: str) -> str:
        return playbook(HERE / "site.yml", "--vault-password-file", str(password_file), *args, inventory=str(inventory))

    banner("Role thrive_tokens: the client secret and a new self-client code go into Ansible Vault")
    write_vault(vault_file, password_file, {"vault_zoho_client_id": client_id, "vault_zoho_client_secret": client_secret, "vault_zoho_grant_code": mint()})
    print(f"playbook:   {HERE / 'site.yml'}   (copy it)")
    print(f"inventory:  {inventory}")
    print(f"vault file: {vault_file} (encrypted; first line: {vault_file.read_text().splitlines()[0]})")
    print(f"command:    ansible-playbook -i {inventory} {HERE / 'site.yml'} --vault-password-file {password_file}")

    banner("First run: one exchange on the controller, the tokens go to three hosts (json, ini, env)")
    before = token_requests(info)
    run("--diff")
    after = token_requests(info)
    print(f"Zoho calls in this run: {after['exchanges'] - before['exchanges']} exchange(s), {after['refreshes'] - before['refreshes']} refresh(es)")
    banner("The files on the hosts (tokens masked)")
    show_files(hosts_dir)

    banner("Second run: nothing to do")
    before = token_requests(info)
    changed = changed_counts(run())
    sent = token_requests(info)["token_requests"] - before["token_requests"]
    print(f"changed per host: {changed}; requests to Zoho: {sent}")
    if set(changed) != {"0"} or sent:
        sys.exit("the second run changed something or called Zoho")

    banner("Rotation, step 1: a new code goes into the vault; --check --diff shows what would change and sends nothing")
    write_vault(vault_file, password_file, {"vault_zoho_client_id": client_id, "vault_zoho_client_secret": client_secret, "vault_zoho_grant_code": mint()})
    before = token_requests(info)
    run("--check", "--diff")
    sent = token_requests(info)["token_requests"] - before["token_requests"]
    print(f"requests to Zoho in check mode: {sent}")
    if sent:
        sys.exit("check mode sent a request to Zoho")

    banner("Rotation, step 2: the real run exchanges the new code once, updates every host, then revokes the old token")
    before = token_requests(info)
    rotated = run("--diff")
    after = token_requests(info)
    print(
        f"changed per host: {changed_counts(rotated)}; exchanges: {after['exchanges'] - before['exchanges']}, "
        f"revokes: {after['revokes'] - before['revokes']}"
    )
    if after["exchanges"] - before["exchanges"] != 1 or after["revokes"] - before["revokes"] != 1:
        sys.exit("the rotation did not exchange once and revoke the old refresh token once")
    show_files(hosts_dir)


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    state_dir = WORK / "emulator"
    # A fresh state directory each run: one that a killed run (or an older version) left may still
    # hold a running emulator, or be open to other users, which the emulator refuses.
    subprocess.run([sys.executable, str(EMULATOR), "stop", "--state-dir", str(state_dir)], capture_output=True, check=False)
    shutil.rmtree(state_dir, ignore_errors=True)
    client_id = "1000.DEMOCLIENT"
    client_secret = f"demo-secret-{secrets.token_hex(8)}"
    banner("Starting the Zoho Accounts emulator")
    info = json.loads(emulator("start", "--state-dir", str(state_dir), "--clients-file", "-", stdin=f"{client_id}:{client_secret}\n"))
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
        write_private(
            vars_file,
            json.dumps(
                {
                    "demo_client_id": client_id,
                    "demo_client_secret": client_secret,
                    "demo_accounts_url": info["url"],
                    "demo_ca_path": info["ca_path"],
                    "demo_code": code,
                    "demo_token_cache": str(token_cache),
                }
            ),
        )

        banner("Modules: auth URL, exchange, refresh, revoke")
        playbook(HERE / "modules.yml", "-e", f"demo_vars_file={vars_file}")

        run_role_demo(state_dir, info, client_id, client_secret)

        banner("What the emulator saw")
        counts = token_requests(info)
        log = requests.get(f"{admin}/log", verify=info["ca_path"], timeout=10).json()["requests"]
        print(
            f"token requests: {counts['token_requests']}, exchanges: {counts['exchanges']} (one by the modules demo, two by the "
            f"role: first run and rotation, for three hosts each), refreshes: {counts['refreshes']}, revokes: {counts['revokes']}"
        )
        print(f"secrets in any URL query string: {sum(1 for entry in log if entry['query_string'])}")
    finally:
        banner("Stopping the emulator")
        emulator("stop", "--state-dir", str(state_dir))


if __name__ == "__main__":
    main()
