"""The thrive_tokens role as an operator meets it: check mode output, messages in the role's own
words, misspelled and missing variables, and the README's copy-paste recipe (issue 7).

Real ansible-playbook runs against the emulator; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from test_role_thrive_tokens import Site, assert_ok

from conftest import BIN, REPO, Emulator, PlaybookRun


@pytest.fixture()
def site(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> Site:
    return Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json", "yaml", "ini", "env"])


def diff_keys(run: PlaybookRun) -> dict[str, set[str]]:
    """The managed keys each host's --diff output names as changing.

    Ansible prints a host's diff just before that host's ``changed: [host]`` line, so the key
    lines seen since the previous host line belong to the next one.
    """
    found: dict[str, set[str]] = {}
    for block in re.split(r"\n(?=TASK \[)", run.stdout):
        if "Write the Zoho Thrive tokens into the config file" not in block.splitlines()[0]:
            continue
        pending: set[str] = set()
        for line in block.splitlines():
            keys = re.match(r"^[+-]\s*(\S+?): (?:changed|added|removed)\b", line)
            if keys:
                pending.add(keys.group(1))
            match = re.match(r"^(?:changed|ok): \[([^\]]+)\]", line)
            if match:
                found[match.group(1)] = pending
                pending = set()
    return found


# ---------------------------------------------------------------------------------------------
# Item 3: an absent value never erases a known one.


def zoho_answers_without_api_domain(emulator: Emulator) -> None:
    emulator.admin("POST", "clients", {"client_id": emulator.client_id, "client_secret": emulator.client_secret, "api_domain": ""})


def test_a_refresh_answer_without_api_domain_keeps_the_known_one(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    assert {site.read(host)["api_domain"] for host in site.hosts} == {"https://www.zohoapis.com"}
    zoho_answers_without_api_domain(site.emulator)
    site.vars["thrive_tokens_min_ttl"] = 7200  # longer than an access token lives: the run must refresh
    run = site.run("--diff")
    assert_ok(run)
    assert site.emulator.state()["refreshes"] == 1
    assert {site.read(host)["api_domain"] for host in site.hosts} == {"https://www.zohoapis.com"}
    assert not any("api_domain" in key.lower() for keys in diff_keys(run).values() for key in keys)


def test_without_any_known_api_domain_the_data_centers_is_written(site: Site) -> None:
    zoho_answers_without_api_domain(site.emulator)
    site.new_code()
    site.vars["thrive_tokens_data_center"] = "eu"  # the emulator stands outside Zoho's list: the data center names the default
    assert_ok(site.run())
    assert {site.read(host)["api_domain"] for host in site.hosts} == {"https://www.zohoapis.eu"}


# ---------------------------------------------------------------------------------------------
# Item 5: check mode shows the truth, readably.


def test_check_mode_output_is_not_masked_and_the_handler_says_would(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    site.new_code()
    checked = site.run("--check", "--diff", "-v")
    assert_ok(checked)
    # A placeholder such as expires_at=0 in a no_log option makes Ansible mask every "0" of the output.
    banners = ("PLAY ", "TASK [", "RUNNING HANDLER [", "PLAY RECAP")
    lines = [line for line in checked.stdout.splitlines() if not line.startswith(banners)]
    masked = [line for line in lines if re.search(r"(?<!\*)\*{8}(?!\*)", line)]
    assert not masked, masked[:5]
    assert "would be updated (check mode)" in checked.stdout
    assert "Zoho Thrive tokens updated in" not in checked.stdout
    assert site.emulator.state()["exchanges"] == 1  # check mode sent nothing


def test_the_predicted_diff_matches_the_real_run_key_for_key(site: Site) -> None:
    site.new_code()
    first_check = site.run("--check", "--diff")
    assert_ok(first_check)
    first = site.run("--diff")
    assert_ok(first)
    assert diff_keys(first_check) == diff_keys(first)
    assert all(diff_keys(first).values())

    site.new_code()  # rotation: api_domain and accounts_url stay, the tokens and the fingerprint change
    predicted = site.run("--check", "--diff")
    assert_ok(predicted)
    real = site.run("--diff")
    assert_ok(real)
    assert diff_keys(predicted) == diff_keys(real)
    for keys in diff_keys(real).values():
        assert not {key for key in keys if "api_domain" in key.lower() or "accounts_url" in key.lower()}, keys


# ---------------------------------------------------------------------------------------------
# Item 6: errors in the operator's own words.


def test_a_misspelled_variable_is_named_with_the_closest_known_one(site: Site) -> None:
    site.new_code()
    site.vars["thrive_tokens_config_fromat"] = "yaml"
    run = site.run()
    assert_ok(run)
    assert re.search(r"\[WARNING\]: zohothrive\.oauth\.thrive_tokens does not know the variable\s+thrive_tokens_config_fromat", run.output)
    assert "Did you mean thrive_tokens_config_format?" in run.output.replace("\n", " ")
    assert run.output.count("does not know the variable thrive_tokens_config_fromat") <= 2  # once (stdout and log), not per host


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"thrive_tokens_client_secret": None}, "thrive_tokens_client_secret"),
        ({"thrive_tokens_client_id": None}, "thrive_tokens_client_id"),
        ({"thrive_tokens_client_secret": ""}, "thrive_tokens_client_secret is empty"),
        ({"thrive_tokens_token_cache": "relative/tokens.json"}, "thrive_tokens_token_cache must be an absolute path"),
        ({"thrive_tokens_min_ttl": -1}, "thrive_tokens_min_ttl is -1"),
        ({"thrive_tokens_keys": {"refresh": "R"}}, "it has refresh"),
        ({"thrive_tokens_keys": {"access_token": "ZOHO_TOKEN", "refresh_token": "ZOHO_TOKEN"}}, "makes two values share one key in the file"),
        ({"thrive_tokens_keys": {"refresh_token": None}}, "gives refresh_token the name"),
        ({"thrive_tokens_keys": {"refresh_token": ["x"]}}, "gives refresh_token the name"),
        ({"thrive_tokens_keys": {"refresh_token": ""}}, "gives refresh_token the name"),
    ],
    ids=[
        "no-secret",
        "no-client-id",
        "empty-secret",
        "relative-cache",
        "negative-min-ttl",
        "unknown-key-name",
        "two-values-one-key",
        "null-key-name",
        "list-key-name",
        "empty-key-name",
    ],
)
def test_each_bad_input_gets_its_own_message(site: Site, change: dict[str, object], expected: str) -> None:
    site.new_code()
    for name, value in change.items():
        if value is None:
            site.vars.pop(name)
        else:
            site.vars[name] = value
    run = site.run()
    assert run.returncode != 0
    assert expected in run.output.replace("\n", " ")
    assert "needs thrive_tokens_client_id, thrive_tokens_client_secret and" not in run.output  # no catch-all any more
    assert site.emulator.state()["token_requests"] == 0
    assert not any(site.config(host).exists() for host in site.hosts)


def test_an_env_host_with_a_name_env_cannot_hold_is_refused_before_anything_is_sent(site: Site) -> None:
    site.new_code()
    inventory = (site.root / "inventory.ini").read_text()
    env_host = site.hosts[site.formats.index("env")]
    (site.root / "inventory.ini").write_text(inventory.replace(f"{env_host} ", f"{env_host} thrive_tokens_keys='{{\"refresh_token\": \"A B\"}}' ", 1))
    run = site.run()
    assert run.returncode != 0
    assert "a env file cannot hold as a key" in " ".join(run.output.split())
    assert not site.config(env_host).exists()  # that host fails in preflight; the others, set up right, get their tokens
    assert all(site.config(host).exists() for host in site.hosts if host != env_host)


def test_a_host_whose_controller_settings_differ_is_refused_and_named(site: Site) -> None:
    """The controller phase runs once, with the first host's values: a host set up for another client must not get its tokens."""
    site.new_code()
    inventory = (site.root / "inventory.ini").read_text()
    last = site.hosts[-1]
    (site.root / "inventory.ini").write_text(inventory.replace(f"{last} ", f"{last} thrive_tokens_client_id=1000.ANOTHERCLIENT ", 1))
    site.vars.pop("thrive_tokens_client_id")  # in the inventory, per host, as an operator might
    inventory = (site.root / "inventory.ini").read_text()
    (site.root / "inventory.ini").write_text(inventory + f"[apps:vars]\nthrive_tokens_client_id={site.emulator.client_id}\n")
    run = site.run()
    assert run.returncode != 0
    text = " ".join(run.output.split())
    assert f"thrive_tokens_client_id of {last} differ(s) from {site.hosts[0]}" in text
    assert not site.config(last).exists()  # it never gets the other client's tokens; the others, set up alike, do
    assert all(site.config(host).exists() for host in site.hosts[:-1])


@pytest.mark.parametrize("mode", [640, 416, 600], ids=["640", "yaml-0640", "600"])
def test_an_unquoted_mode_is_refused_with_the_quoted_form(site: Site, mode: int) -> None:
    site.new_code()
    site.vars["thrive_tokens_config_mode"] = mode  # what YAML makes of `640` or `0640` without quotes
    run = site.run()
    assert run.returncode != 0
    text = run.output.replace("\n", " ")
    assert f"thrive_tokens_config_mode is the unquoted number {mode}" in text
    assert "thrive_tokens_config_mode: '0640'" in text
    assert site.emulator.state()["token_requests"] == 0
    assert not any(site.config(host).exists() for host in site.hosts)


def test_a_quoted_mode_is_applied(site: Site) -> None:
    site.new_code()
    site.vars["thrive_tokens_config_mode"] = "0640"
    assert_ok(site.run())
    assert {oct(site.config(host).stat().st_mode & 0o777) for host in site.hosts} == {"0o640"}


def test_module_messages_name_the_role_variables(site: Site) -> None:
    site.new_code()
    site.vars["thrive_tokens_accounts_url"] = f"{site.emulator.url}/oauth/v2/token"  # the full token URL, an easy slip
    run = site.run()
    assert run.returncode != 0
    assert "`thrive_tokens_accounts_url`" in run.output
    assert "`accounts_url`" not in run.output
    assert site.emulator.state()["token_requests"] == 0  # refused before sending: the code is still usable
    site.vars["thrive_tokens_accounts_url"] = site.emulator.url
    assert_ok(site.run())
    assert site.emulator.state()["exchanges"] == 1


def test_timeout_out_of_range_names_the_role_variable(site: Site) -> None:
    site.new_code()
    site.vars["thrive_tokens_timeout"] = 0
    run = site.run()
    assert run.returncode != 0
    assert "`thrive_tokens_timeout`" in run.output
    assert site.emulator.state()["token_requests"] == 0


def test_a_refused_link_names_the_role_variable(site: Site) -> None:
    site.new_code()
    host = site.hosts[0]
    real = site.config(host).with_name("real.json")
    real.write_text("{}\n")
    site.config(host).symlink_to(real)
    run = site.run()
    assert run.returncode != 0
    assert "`thrive_tokens_config_follow`" in run.output
    assert "`follow`" not in run.output


# ---------------------------------------------------------------------------------------------
# Item 8: the README's "Try the role against the emulator" recipe works as written.


def readme_recipe() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Try the role against the emulator", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL).group(1)


def test_the_readme_recipe_runs_as_written(collections_path: str, tmp_path: Path) -> None:
    script = readme_recipe()
    assert script.startswith("make venv collection")
    # The suite already runs in the built venv with the collection on ANSIBLE_COLLECTIONS_PATH.
    script = script.replace("make venv collection", ":", 1)
    # As a newcomer's shell: no interpreter preset, and pyenv's shims (which answer "command not found") stay on PATH.
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "ZOHO_THRIVE_"))}
    environment.update(
        PATH=f"{BIN}:{environment.get('PATH', '')}",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_REMOTE_TMP=str(tmp_path / "ansible-remote"),
        TMPDIR=str(tmp_path),
    )
    # The recipe exports ANSIBLE_COLLECTIONS_PATH="$PWD/.build": give it a $PWD where that is this checkout.
    workdir = tmp_path / "clone"
    workdir.mkdir()
    (workdir / ".build").symlink_to(Path(collections_path))
    (workdir / "tests").symlink_to(REPO / "tests")
    (workdir / ".venv").symlink_to(BIN.parent)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=workdir, env=environment, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    recaps = re.findall(r"^(web\d)\s+:\s+ok=\d+\s+changed=(\d+)", output, flags=re.MULTILINE)
    # Four runs of two hosts: first (changed), second (changed=0), check (changed), rotation (changed).
    assert [int(changed) > 0 for _host, changed in recaps] == [True, True, False, False, True, True, True, True], recaps
    assert "would be updated (check mode)" in output


# ---------------------------------------------------------------------------------------------
# Found by attacking the change: the same class, more inputs.


@pytest.mark.parametrize(("mode", "written"), [(416, "0640"), (384, "0600")], ids=["yaml-0640", "yaml-0600"])
def test_the_unquoted_mode_message_never_pairs_a_number_with_the_wrong_mode(site: Site, mode: int, written: str) -> None:
    site.new_code()
    site.vars["thrive_tokens_config_mode"] = mode  # what YAML makes of an unquoted 0640 or 0600
    run = site.run()
    assert run.returncode != 0
    text = " ".join(run.output.split())
    assert f"thrive_tokens_config_mode is the unquoted number {mode}" in text
    assert "0640 into the number 416" in text and "640 stays the number 640, which as a mode is 1200" in text
    assert f"(mode {written})" not in text


def test_a_misspelled_prefix_is_warned_about(site: Site) -> None:
    site.new_code()
    site.vars["thrive_token_config_format"] = "yaml"  # singular "token"
    site.vars["thrive_app_name"] = "not the role's"  # a play's own variable that merely starts alike
    run = site.run()
    assert_ok(run)
    text = " ".join(run.output.split())
    assert "does not know the variable thrive_token_config_format" in text
    assert "Did you mean thrive_tokens_config_format?" in text
    assert "thrive_app_name" not in text


def test_a_check_mode_refusal_of_a_key_name_names_the_role_variable(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    site.vars["thrive_tokens_keys"] = {"access_token": "ZOHO-ACCESS"}  # not a name an env file can hold
    site.vars["thrive_tokens_min_ttl"] = 7200  # the access token would be refreshed: its keys are pending in check mode
    checked = site.run("--check")
    assert checked.returncode != 0
    # Refused in preflight, on the env host only, before anything is read or sent (in the module before issue 8's attack).
    refusal = "thrive_tokens_keys gives access_token the name 'ZOHO-ACCESS', which a env file cannot hold as a key"
    assert refusal in " ".join(checked.output.split())
    assert "`pending`" not in checked.output
    real = site.run()
    assert real.returncode != 0
    assert refusal in " ".join(real.output.split())


def test_a_damaged_token_on_a_host_is_named_by_host_and_file(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    site.cache.unlink()  # a fresh controller: the role reads the hosts' files as candidates
    path = site.config("app1")
    data = json.loads(path.read_text())
    data["refresh_token"] = data["refresh_token"][:10] + " " + data["refresh_token"][10:]
    path.write_text(json.dumps(data))
    run = site.run()
    warnings = [" ".join(line.split()) for line in run.output.splitlines() if "read from" in line]
    assert warnings, run.output[-3000:]
    assert any(f"app1:{path}" in line for line in warnings), warnings
