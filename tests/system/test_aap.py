"""Automation Platform and AWX (issue 9, item 1): the execution environment, the credential type, ansible-runner.

- ansible-builder reads the collection's meta/execution-environment.yml (introspect) and builds the
  context of the example EE (create needs no container engine).
- The "Zoho Thrive OAuth client" credential type sets exactly the environment variables that the
  collection's options fall back to.
- The job template's playbook (docs/aap/site.yml) runs through ansible-runner, the engine of AWX
  and Automation Platform, with the credential injected the way its injector does it. The platform
  stores every job event in its database, so every file of the run's artifacts is searched for the
  client secret, the code, the tokens and the vault token, raw and encoded, with a positive control.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import typing as t
import urllib.parse
from pathlib import Path

import jinja2
import yaml

from conftest import REPO, Emulator, write

AAP = REPO / "docs" / "aap"
BIN = Path(sys.executable).parent
CANARY = "zt-canary-7f3a9c1e5b"
# ansible-builder does not depend on the ansible-core under test: the older ansible-core legs
# (make system-2.17 ... system-2.20) use the one of the main venv, which make builds first.
BUILDER = next((str(path) for path in (BIN / "ansible-builder", REPO / ".venv" / "bin" / "ansible-builder") if path.exists()), "ansible-builder")


def test_ansible_builder_reads_the_collection_dependencies(collections_path: str) -> None:
    introspect = subprocess.run([BUILDER, "introspect", collections_path], capture_output=True, text=True, check=True)
    found = yaml.safe_load(introspect.stdout.split("\n", 1)[1])
    python = sorted(line.split("#")[0].split(">=")[0].strip() for line in found["python"] if "zohothrive.oauth" in line)
    assert python == ["hvac", "requests"]
    assert [line for line in found.get("system") or [] if "zohothrive.oauth" in line] == []  # nothing beyond Python


def test_ansible_builder_creates_the_example_execution_environment(tmp_path: Path) -> None:
    context = tmp_path / "context"
    subprocess.run(
        [BUILDER, "create", "-f", str(AAP / "execution-environment.yml"), "-c", str(context)],
        cwd=AAP,
        capture_output=True,
        text=True,
        check=True,
    )
    containerfile = next(context.glob("*file")).read_text()  # Containerfile or Dockerfile
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    assert 'ANSIBLE_INSTALL_REFS="ansible-core>=2.17' in containerfile  # the collection's requires_ansible
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert "zohothrive.oauth" in [collection["name"] for collection in galaxy["collections"]]


def credential_type() -> dict[str, t.Any]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    return yaml.load((AAP / "zoho_thrive_credential_type.yml").read_text(), Loader=Loader)["zoho_thrive_credential_type"]  # noqa: S506


def inject(inputs: dict[str, str]) -> dict[str, str]:
    """The environment the platform gives a job with this credential: each injector template rendered with the inputs."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return {name: env.from_string(template).render(**inputs) for name, template in credential_type()["injectors"]["env"].items()}


def test_the_credential_type_injects_the_collection_environment_fallbacks(collections_path: str) -> None:
    sys.path.insert(0, collections_path)
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _module  # pylint: disable=import-outside-toplevel

    fields = {field["id"]: field for field in credential_type()["inputs"]["fields"]}
    assert set(fields) == {"client_id", "client_secret", "data_center", "accounts_url"}
    assert fields["client_secret"].get("secret") is True and not any(fields[name].get("secret") for name in ("client_id", "data_center"))
    spec = _module.connection_argument_spec()
    assert fields["data_center"]["choices"] == list(spec["data_center"]["choices"])
    fallbacks = {name: spec[name]["fallback"][1][0] for name in fields}
    assert credential_type()["injectors"]["env"].keys() == set(fallbacks.values())
    injected = inject({"client_id": "1000.ID", "client_secret": "S", "data_center": "eu"})  # accounts_url left empty
    assert injected == {fallbacks["client_id"]: "1000.ID", fallbacks["client_secret"]: "S", fallbacks["data_center"]: "eu", fallbacks["accounts_url"]: ""}


def encodings(secret: str) -> dict[str, str]:
    """The forms a secret could take in a job event: raw, JSON-escaped, URL-encoded, base64 (each alignment)."""
    forms = {"raw": secret, "json": json.dumps(secret)[1:-1], "url": urllib.parse.quote_plus(secret), "url-all": urllib.parse.quote(secret, safe="")}
    raw = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        inner = encoded[4 if shift else 0 : -4]  # the characters that depend only on the secret
        forms[f"base64+{shift}"] = inner
        forms[f"base64url+{shift}"] = inner.replace("+", "-").replace("/", "_")
    return forms


def found_in(root: Path, secret: str) -> list[str]:
    """``PATH: FORM`` for each file under ``root`` that holds ``secret`` in a form of :func:`encodings`.

    The caller leaves out each run's ``command`` file: ansible-runner's copy of its own input (the
    command line and the environment it was given, the injected credential included), which the
    platform keeps as the encrypted credential, not as job output.
    """
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            hits += [f"{path.relative_to(root)}: {form}" for form, value in encodings(secret).items() if len(value) >= 8 and value in text]
    return hits


CONTROL = f"""
- name: Positive control for the artifact search
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Print the canary in every form the search looks for
      ansible.builtin.debug:
        msg:
          - "{CANARY}"
          - "{{{{ '{CANARY}' | b64encode }}}}"
          - "{{{{ 'x{CANARY}' | b64encode }}}}"
          - "{{{{ 'xy{CANARY}' | b64encode }}}}"
          - "{{{{ '{CANARY}' | urlencode }}}}"
"""


def test_the_role_runs_through_ansible_runner_and_no_secret_reaches_the_artifacts(
    tmp_path: Path, fresh_emulator: Emulator, openbao_kv: t.Any, collections_path: str
) -> None:
    import ansible_runner  # pylint: disable=import-outside-toplevel

    data = tmp_path / "runner"
    project = data / "project"
    project.mkdir(parents=True)
    shutil.copy(AAP / "site.yml", project / "site.yml")
    write(project / "job.yml", "- name: The job template's playbook\n  ansible.builtin.import_playbook: site.yml\n" + CONTROL)
    code = fresh_emulator.mint_code(ttl=600)
    password = write(tmp_path / "vault-pass", "correct horse battery staple\n")
    subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(password), "--output", str(project / "zoho_secrets.yml"), "-"],
        input=f"vault_zoho_grant_code: {code}\n",
        text=True,
        check=True,
        capture_output=True,
    )
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    inventory = "[apps]\n" + "".join(
        f"app{n} ansible_connection=local ansible_python_interpreter=/usr/bin/python3 thrive_tokens_config_format=env "
        f"thrive_tokens_config_path={hosts}/app{n}.env\n"
        for n in (1, 2)
    )
    write(data / "inventory" / "hosts", inventory)
    vault_token = openbao_kv.token("zohothrive/")
    env = inject(
        {"client_id": fresh_emulator.client_id, "client_secret": fresh_emulator.client_secret, "data_center": "eu", "accounts_url": fresh_emulator.url}
    )
    env.update(
        VAULT_ADDR=openbao_kv.server.addr,  # a second credential (custom type) would inject these
        VAULT_TOKEN=vault_token,
        ANSIBLE_COLLECTIONS_PATH=collections_path,
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        HOME=str(tmp_path / "home"),
        ANSIBLE_REMOTE_TMP=str(tmp_path / "ansible-remote"),
    )
    extra = {
        "thrive_tokens_ca_path": fresh_emulator.ca_path,
        "thrive_tokens_vault_engine_mount_point": openbao_kv.mount,
        "ansible_become": False,
    }
    # ansible-runner replaces SIGINT and SIGTERM handlers in the calling thread and never puts them
    # back: without this, the rest of the suite would ignore Ctrl-C and a suite's time limit.
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        run = ansible_runner.run(
            private_data_dir=str(data),
            playbook="job.yml",
            envvars=env,
            extravars=extra,
            cmdline=f"--vault-password-file {password}",
            quiet=True,
        )
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    stdout = run.stdout.read()
    assert (run.status, run.rc) == ("successful", 0), stdout[-6000:]
    assert fresh_emulator.state()["exchanges"] == 1
    stored = openbao_kv.client().secrets.kv.v2.read_secret_version(path="zohothrive/myapp", mount_point=openbao_kv.mount, raise_on_deleted_version=True)
    tokens = stored["data"]["data"]
    for n in (1, 2):
        assert f"ZOHO_THRIVE_REFRESH_TOKEN={tokens['refresh_token']}" in (hosts / f"app{n}.env").read_text()
    artifacts = data / "artifacts"
    assert list(artifacts.rglob("job_events/*.json")), "ansible-runner wrote no job events"
    assert {hit.split(": ")[0].split("/", 1)[1] for hit in found_in(artifacts, env["ZOHO_THRIVE_CLIENT_SECRET"])} <= {"command"}
    # The control proves that the search finds what is there, in each form it looks for.
    assert {hit.split(": ")[1] for hit in found_in(artifacts, CANARY)} >= {"raw", "base64+0", "base64+1", "base64+2", "url"}
    secrets = {
        "client secret": fresh_emulator.client_secret,
        "grant code": code,
        "refresh token": tokens["refresh_token"],
        "access token": tokens["access_token"],
        "vault token": vault_token,
    }
    leaks = {name: [hit for hit in found_in(artifacts, value) if not hit.split(": ")[0].endswith("/command")] for name, value in secrets.items()}
    assert leaks == {name: [] for name in secrets}
