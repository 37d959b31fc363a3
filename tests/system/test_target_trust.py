"""Links and hostile directories on target hosts (issue 6, item 1), for real.

A real unprivileged user (made with useradd) owns an application directory and plants links in
it with its own rights (runuser). The role thrive_tokens then runs through ansible-playbook with
``become: true`` (become_method su: the suite runs as root, and su is in every Debian) against the
emulator, as in production. Every "/etc-style" file a link points at must stay byte-identical,
with its owner and mode, and no file may appear where a link points.

Everything lives in a fresh directory under /tmp (root-owned, 0755, so the app user can reach its
own directory); nothing outside it is touched. The user is removed at the end of the session.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import typing as t
import uuid
from pathlib import Path

import pytest

from conftest import Emulator, PlaybookRun, write

BARE_PYTHON = "/usr/bin/python3"  # targets run the system Python

PLAYBOOK = """
- name: Deliver Zoho Thrive tokens as root
  hosts: apps
  gather_facts: false
  become: true
  become_method: ansible.builtin.su
  roles:
    - role: zohothrive.oauth.thrive_tokens
"""

ROOT_CONTENT = "ROOT_ONLY_SETTING=keep-me\n"


@pytest.fixture(scope="session")
def app_user() -> t.Iterator[str]:
    """A real unprivileged user, like the owner of an application's directory."""
    assert os.geteuid() == 0, (
        "tests/system/test_target_trust.py needs root: it creates a user with useradd and runs the role with become, as CI "
        "does. Run it as root (for example in the CI container)."
    )
    name = f"zt-app-{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture()
def base() -> t.Iterator[Path]:
    """A root-owned 0755 directory under /tmp that the app user can traverse."""
    path = Path(tempfile.mkdtemp(prefix="zt-trust-", dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_user(user: str, *command: str) -> None:
    """Run a command with the rights of ``user`` (runuser is in util-linux, present on every Debian)."""
    subprocess.run(["runuser", "-u", user, "--", *command], check=True)


def root_file(path: Path, content: str = ROOT_CONTENT, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    os.chown(path, 0, 0)
    os.chmod(path, mode)
    return path


def identity(path: Path) -> tuple[bytes, int, int, int, int]:
    """Content, inode, owner, group and mode: equal means untouched."""
    st = os.lstat(path)
    return path.read_bytes(), st.st_ino, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


class Fleet:
    """One target host (local connection, system Python) whose config file is ``config``."""

    def __init__(self, root: Path, emulator: Emulator, ansible_playbook: t.Callable[..., PlaybookRun], config: Path) -> None:
        self.root = root
        self.emulator = emulator
        self._run = ansible_playbook
        controller = root / "controller"
        controller.mkdir(mode=0o700)
        self.vars: dict[str, object] = {
            "thrive_tokens_client_id": emulator.client_id,
            "thrive_tokens_client_secret": emulator.client_secret,
            "thrive_tokens_accounts_url": emulator.url,
            "thrive_tokens_ca_path": emulator.ca_path,
            "thrive_tokens_token_cache": str(controller / "tokens.json"),
            "thrive_tokens_config_path": str(config),
            "thrive_tokens_config_format": "env",
            "thrive_tokens_grant_code": emulator.mint_code(ttl=600),
        }
        write(root / "inventory.ini", f"[apps]\napp1 ansible_connection=local ansible_python_interpreter={BARE_PYTHON}\n")

    def run(self, **overrides: object) -> PlaybookRun:
        vars_file = write(self.root / "vars.json", json.dumps(dict(self.vars, **overrides)))
        os.chmod(vars_file, 0o600)
        playbook = write(self.root / "site.yml", PLAYBOOK)
        return self._run(playbook, "-e", f"@{vars_file}", inventory=str(self.root / "inventory.ini"))


@pytest.fixture()
def fleet_for(fresh_emulator: Emulator, ansible_playbook: t.Callable[..., PlaybookRun], base: Path) -> t.Callable[[Path], Fleet]:
    def make(config: Path) -> Fleet:
        root = base / "ansible"
        root.mkdir(mode=0o700)
        return Fleet(root, fresh_emulator, ansible_playbook, config)

    return make


def app_dir(base: Path, user: str) -> Path:
    """As root: mkdir /srv/app && chown appuser /srv/app."""
    path = base / "srv" / "app"
    path.mkdir(parents=True)
    os.chmod(path.parent, 0o755)
    shutil.chown(path, user, user)
    return path


def test_issue_input_app_users_link_to_a_root_file_is_refused(base: Path, app_user: str, fleet_for: t.Callable[[Path], Fleet]) -> None:
    """As appuser: ln -s /etc/app-root.env /srv/app/zoho.env; the role runs with owner appuser and mode 0640."""
    target = root_file(base / "etc" / "app-root.env")
    before = identity(target)
    app = app_dir(base, app_user)
    link = app / "zoho.env"
    as_user(app_user, "ln", "-s", str(target), str(link))
    fleet = fleet_for(link)

    refused = fleet.run(thrive_tokens_config_owner=app_user, thrive_tokens_config_mode="0640")
    assert refused.returncode != 0, refused.output[-4000:]
    assert f"{link} is a symbolic link to {target}; it is not followed." in refused.output
    assert "`thrive_tokens_config_follow` to true" in refused.output
    assert identity(target) == before
    assert fleet.emulator.state()["exchanges"] == 0  # refused while reading the hosts, before the code was spent

    # follow: true does not help: the link belongs to appuser and leads out of appuser's files, into root's.
    followed = fleet.run(thrive_tokens_config_owner=app_user, thrive_tokens_config_mode="0640", thrive_tokens_config_follow=True)
    assert followed.returncode != 0, followed.output[-4000:]
    assert f"is reached through the symbolic link {link} (to {target}), which belongs to {app_user}" in followed.output
    assert identity(target) == before
    assert sorted(os.listdir(app)) == ["zoho.env"] and os.path.islink(link)


@pytest.mark.parametrize("follow", [False, True])
def test_dangling_link_never_makes_root_create_its_target(
    base: Path, app_user: str, fleet_for: t.Callable[[Path], Fleet], follow: bool
) -> None:
    (base / "etc").mkdir(mode=0o755)
    wanted = base / "etc" / "created-by-root.env"
    app = app_dir(base, app_user)
    link = app / "zoho.env"
    as_user(app_user, "ln", "-s", str(wanted), str(link))
    fleet = fleet_for(link)
    run = fleet.run(thrive_tokens_config_owner=app_user, thrive_tokens_config_follow=follow)
    assert run.returncode != 0, run.output[-4000:]
    assert str(link) in run.output
    assert not wanted.exists() and os.listdir(base / "etc") == []
    assert sorted(os.listdir(app)) == ["zoho.env"]


def test_planted_lock_link_never_makes_root_create_a_file(base: Path, app_user: str, fleet_for: t.Callable[[Path], Fleet]) -> None:
    (base / "etc").mkdir(mode=0o755)
    wanted = base / "etc" / "arbitrary-empty-file"
    app = app_dir(base, app_user)
    lock = app / ".zoho.env.lock"
    as_user(app_user, "ln", "-s", str(wanted), str(lock))
    fleet = fleet_for(app / "zoho.env")
    run = fleet.run(thrive_tokens_config_owner=app_user, thrive_tokens_config_mode="0640")
    assert run.returncode != 0, run.output[-4000:]
    assert f"The lock file {lock} is a symbolic link; it is not followed." in run.output
    assert not wanted.exists() and os.listdir(base / "etc") == []
    assert sorted(os.listdir(app)) == [".zoho.env.lock"]  # no config file either: nothing was written


def test_planted_hard_link_to_a_root_file_is_refused(base: Path, app_user: str, fleet_for: t.Callable[[Path], Fleet]) -> None:
    """The hard-link variant (root can make it even with fs.protected_hardlinks): never chowned through the app dir."""
    target = root_file(base / "etc" / "app-root.env")
    app = app_dir(base, app_user)
    os.link(target, app / "zoho.env")
    before = identity(target)
    fleet = fleet_for(app / "zoho.env")
    run = fleet.run(thrive_tokens_config_owner=app_user, thrive_tokens_config_mode="0640")
    assert run.returncode != 0, run.output[-4000:]
    assert "(as a link or a hard link)" in run.output
    assert identity(target) == before


def test_app_users_own_directory_works_for_its_own_file(base: Path, app_user: str, fleet_for: t.Callable[[Path], Fleet]) -> None:
    """The legitimate setup of the issue: the app user owns its config directory and the file."""
    app = app_dir(base, app_user)
    fleet = fleet_for(app / "zoho.env")
    run = fleet.run(thrive_tokens_config_owner=app_user, thrive_tokens_config_mode="0640")
    assert run.returncode == 0, run.output[-6000:]
    st = os.stat(app / "zoho.env")
    assert (pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)) == (app_user, 0o640)
    assert "ZOHO_THRIVE_REFRESH_TOKEN=" in (app / "zoho.env").read_text()


def test_root_owned_link_in_a_root_owned_directory_works_with_follow(base: Path, app_user: str, fleet_for: t.Callable[[Path], Fleet]) -> None:
    target = root_file(base / "etc" / "app-root.env", mode=0o600)
    conf = base / "opt" / "app" / "conf"
    conf.mkdir(parents=True)
    link = conf / "zoho.env"
    link.symlink_to(target)  # made by root, in root's directory: trusted
    fleet = fleet_for(link)

    refused = fleet.run()
    assert refused.returncode != 0 and f"{link} is a symbolic link to {target}; it is not followed." in refused.output
    assert target.read_text() == ROOT_CONTENT

    run = fleet.run(thrive_tokens_config_follow=True, thrive_tokens_config_owner=app_user, thrive_tokens_config_mode="0640")
    assert run.returncode == 0, run.output[-6000:]
    assert link.is_symlink() and os.readlink(link) == str(target)
    text = target.read_text()
    assert text.startswith(ROOT_CONTENT) and "ZOHO_THRIVE_REFRESH_TOKEN=" in text
    st = os.stat(target)
    assert (pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)) == (app_user, 0o640)
    assert sorted(os.listdir(conf)) == ["zoho.env"]  # lock and temporary files live next to the real file
    assert sorted(os.listdir(target.parent)) == ["app-root.env"]  # and the lock file is gone once the lock is released

    again = fleet.run(thrive_tokens_config_follow=True, thrive_tokens_config_owner=app_user, thrive_tokens_config_mode="0640")
    assert again.returncode == 0, again.output[-6000:]
    assert "changed=0" in again.stdout and fleet.emulator.state()["exchanges"] == 1
