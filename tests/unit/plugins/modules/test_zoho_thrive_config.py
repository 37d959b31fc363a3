# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""zoho_thrive_config: merge tokens into a config file on the target, atomically and idempotently."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import stat
import subprocess
import typing as t

import pytest
import yaml

from ansible_collections.zohothrive.oauth.plugins.module_utils import _config_file, _config_task
from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_config as module
from ansible_collections.zohothrive.oauth.tests.unit.fakes import TrackedList

RT = "1000.refresh-S3CRET.value"
AT = "1000.access-S3CRET.value"
NOBODY = "nobody"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def mode_of(path: t.Any) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def snapshot(path: t.Any) -> tuple[bytes, int, int, int]:
    """Content, inode, mtime and mode: equal snapshots mean the file was not touched."""
    st = os.stat(path)
    with open(path, "rb") as handle:
        return handle.read(), st.st_ino, st.st_mtime_ns, stat.S_IMODE(st.st_mode)


def listing(directory: t.Any) -> list[str]:
    return sorted(os.listdir(directory))


def args(path: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    base: dict[str, t.Any] = {"path": str(path), "values": {"refresh_token": RT, "access_token": AT}}
    base.update(extra)
    return base


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing the owner of a file needs root")


# -- present ------------------------------------------------------------------------------------


def test_creates_a_new_file_0600_even_with_umask_000(run_module: t.Any, tmp_path: t.Any, umask_000: None) -> None:
    target = tmp_path / "app.json"
    result = run_module(module, args(target))
    assert not result.failed, result.get("msg")
    assert result["changed"] is True and result["created"] is True
    assert result["changed_keys"] == ["refresh_token", "access_token"]
    assert result["fingerprints"] == {"refresh_token": sha(RT), "access_token": sha(AT)}
    assert "backup_file" not in result
    assert json.loads(target.read_text()) == {"refresh_token": RT, "access_token": AT}
    assert mode_of(target) == 0o600
    assert listing(tmp_path) == ["app.json"]  # no temporary file and no lock file left behind


def test_second_run_changes_nothing_and_does_not_touch_the_file(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    run_module(module, args(target))
    before = snapshot(target)
    result = run_module(module, args(target))
    assert result["changed"] is False and result["created"] is False
    assert result["changed_keys"] == []
    assert result["fingerprints"] == {"refresh_token": sha(RT), "access_token": sha(AT)}
    assert snapshot(target) == before


def test_merge_keeps_unrelated_keys_and_replaces_atomically(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    target.write_text('{"name": "app", "refresh_token": "old"}')
    os.chmod(target, 0o600)
    inode = os.stat(target).st_ino
    result = run_module(module, args(target))
    assert result["changed"] is True and result["created"] is False
    assert result["changed_keys"] == ["refresh_token", "access_token"]
    assert json.loads(target.read_text()) == {"name": "app", "refresh_token": RT, "access_token": AT}
    assert os.stat(target).st_ino != inode  # renamed over, not rewritten in place


def test_only_a_wrong_mode_is_fixed_in_place(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    run_module(module, args(target))
    os.chmod(target, 0o644)
    content, inode, _mtime, _mode = snapshot(target)
    result = run_module(module, args(target))
    assert result["changed"] is True and result["changed_keys"] == []
    assert mode_of(target) == 0o600
    assert snapshot(target)[:2] == (content, inode)


@pytest.mark.parametrize("mode, expected", [("0640", 0o640), ("640", 0o640), ("0o640", 0o640), (0o600, 0o600), (0o750, 0o750)])
def test_explicit_mode_applies_to_new_and_existing_files(run_module: t.Any, tmp_path: t.Any, mode: t.Any, expected: int) -> None:
    target = tmp_path / "app.json"
    assert run_module(module, args(target, mode=mode))["changed"] is True
    assert mode_of(target) == expected
    os.chmod(target, 0o400)
    result = run_module(module, args(target, mode=mode, values={"refresh_token": "other"}))
    assert result["changed"] is True and result["changed_keys"] == ["refresh_token"]
    assert mode_of(target) == expected
    assert run_module(module, args(target, mode=mode, values={"refresh_token": "other"}))["changed"] is False


def test_world_readable_mode_warns(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "app.json", mode="0644"))
    assert result["changed"] is True
    assert any("lets every user of the host access" in warning for warning in result.warning_messages)


def test_invalid_mode_fails(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "app.json", mode="u=rw"))
    assert result.failed and "Invalid `mode` 'u=rw'" in result["msg"]
    assert listing(tmp_path) == []


def test_unparsable_file_is_left_byte_identical(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    target.write_text('{"refresh_token": "' + RT + '", broken')
    os.chmod(target, 0o644)
    before = snapshot(target)
    result = run_module(module, args(target, backup=True))
    assert result.failed
    assert result["msg"].startswith(f"Cannot parse {target} as JSON")
    assert snapshot(target) == before  # not even the mode was "fixed"
    assert listing(tmp_path) == ["app.json"]


def test_missing_parent_directory_fails_with_its_name(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "missing" / "app.json"
    result = run_module(module, args(target))
    assert result.failed
    assert f"the directory {tmp_path / 'missing'} does not exist" in result["msg"]
    assert not (tmp_path / "missing").exists()


def test_missing_parent_directory_in_check_mode_predicts_creation(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "missing" / "app.json"), check_mode=True)
    assert not result.failed
    assert result["changed"] is True and result["created"] is True
    assert any("does not exist" in warning for warning in result.warning_messages)
    assert listing(tmp_path) == []


def test_path_that_is_a_directory_fails(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path))
    assert result.failed and "is not a regular file" in result["msg"]


def test_intermediate_link_to_a_directory_is_followed(run_module: t.Any, tmp_path: t.Any) -> None:
    (tmp_path / "real-dir").mkdir()
    (tmp_path / "dir-link").symlink_to(tmp_path / "real-dir")
    result = run_module(module, args(tmp_path / "dir-link" / "app.json", _ansible_diff=True))
    assert not result.failed, result.get("msg")
    assert json.loads((tmp_path / "real-dir" / "app.json").read_text()) == {"refresh_token": RT, "access_token": AT}
    assert result["diff"]["after_header"] == str(tmp_path / "real-dir" / "app.json")


# -- links and untrusted directories (issue 6, item 1) -------------------------------------------

OTHER = pwd.getpwnam(NOBODY).pw_uid


def victim(tmp_path: t.Any, name: str = "app-root.env") -> t.Any:
    """A root-owned (or our own) 0644 file that a planted link points at, as /etc/app-root.env."""
    (tmp_path / "etc").mkdir(exist_ok=True)
    path = tmp_path / "etc" / name
    path.write_text("ROOT_SETTING=1\n")
    os.chmod(path, 0o644)
    return path


def untouched(path: t.Any) -> tuple[bytes, int, int, int, int]:
    st = os.lstat(path)
    with open(path, "rb") as handle:
        return handle.read(), st.st_ino, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


@pytest.mark.parametrize("check_mode", [False, True])
def test_final_symlink_is_refused_by_default(run_module: t.Any, tmp_path: t.Any, check_mode: bool) -> None:
    target = victim(tmp_path)
    before = untouched(target)
    link = tmp_path / "zoho.env"
    link.symlink_to(target)
    result = run_module(module, args(link, format="env", values={"TOKEN": RT}, mode="0640"), check_mode=check_mode)
    assert result.failed
    assert result["msg"].startswith(f"{link} is a symbolic link to {target}; it is not followed.")
    assert result["msg"].endswith("Point `path` at the real file, or set `follow` to true if the link and its directories are trusted.")
    assert untouched(target) == before
    assert link.is_symlink() and sorted(os.listdir(tmp_path)) == ["etc", "zoho.env"]  # no lock, no temporary file


def test_read_does_not_follow_a_final_symlink_either(run_module: t.Any, tmp_path: t.Any) -> None:
    target = victim(tmp_path)
    (tmp_path / "zoho.env").symlink_to(target)
    call = {"path": str(tmp_path / "zoho.env"), "format": "env", "state": "read", "read_keys": ["ROOT_SETTING"]}
    result = run_module(module, call)
    assert result.failed and "is a symbolic link" in result["msg"] and "current_values" not in result
    result = run_module(module, dict(call, follow=True))
    assert not result.failed and result["current_values"] == {"ROOT_SETTING": "1"}


@pytest.mark.parametrize("follow", [False, True])
def test_dangling_symlink_never_creates_its_target(run_module: t.Any, tmp_path: t.Any, follow: bool) -> None:
    (tmp_path / "etc").mkdir()
    link = tmp_path / "zoho.env"
    link.symlink_to(tmp_path / "etc" / "created-by-root")
    result = run_module(module, args(link, format="env", values={"TOKEN": RT}, follow=follow))
    if not follow:
        assert result.failed and "is a symbolic link" in result["msg"]
        assert os.listdir(tmp_path / "etc") == []
    else:
        # Followed (a link of ours, in our own directory): the file is created at the target, the link stays.
        assert not result.failed, result.get("msg")
        assert link.is_symlink() and (tmp_path / "etc" / "created-by-root").read_text() == f"TOKEN={RT}\n"


def test_planted_lock_link_is_refused_and_creates_nothing(run_module: t.Any, tmp_path: t.Any) -> None:
    (tmp_path / "app.json").write_text("{}")
    planted = tmp_path / "elsewhere" / "arbitrary-empty-file"
    planted.parent.mkdir()
    (tmp_path / ".app.json.lock").symlink_to(planted)
    predicted = run_module(module, args(tmp_path / "app.json"), check_mode=True)
    result = run_module(module, args(tmp_path / "app.json"))
    assert result.failed and predicted.failed and predicted["msg"] == result["msg"]  # check mode predicts the refusal
    assert f"The lock file {tmp_path / '.app.json.lock'} is a symbolic link; it is not followed." in result["msg"]
    assert not planted.exists() and os.listdir(planted.parent) == []
    assert (tmp_path / "app.json").read_text() == "{}"


def test_planted_backup_name_link_is_skipped(run_module: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "app.json"
    target.write_text('{"refresh_token": "old"}')
    monkeypatch.setattr(_config_file, "backup_stamp", lambda: "20260101T000000")
    planted = tmp_path / "planted-target"
    (tmp_path / "app.json.20260101T000000.bak").symlink_to(planted)
    result = run_module(module, args(target, backup=True))
    assert not result.failed, result.get("msg")
    assert result["backup_file"] == f"{target}.20260101T000000-1.bak"
    assert not planted.exists()
    assert json.loads(open(result["backup_file"]).read()) == {"refresh_token": "old"}


def test_planted_temporary_name_link_is_skipped(run_module: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.zohothrive.oauth.plugins.module_utils import _fileio

    names = iter(["aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(_fileio.secrets, "token_hex", lambda n: next(names))
    planted = tmp_path / "planted-target"
    (tmp_path / ".app.json.aaaaaaaa.tmp").symlink_to(planted)
    result = run_module(module, args(tmp_path / "app.json"))
    assert not result.failed, result.get("msg")
    assert not planted.exists()
    assert json.loads((tmp_path / "app.json").read_text()) == {"refresh_token": RT, "access_token": AT}
    assert (tmp_path / ".app.json.aaaaaaaa.tmp").is_symlink()  # left alone, not followed, not removed


def test_follow_true_updates_the_file_a_trusted_link_points_at(run_module: t.Any, tmp_path: t.Any) -> None:
    real = tmp_path / "real.json"
    real.write_text("{}")
    os.chmod(real, 0o600)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert run_module(module, args(link, follow=True))["changed"] is True
    assert link.is_symlink()
    assert json.loads(real.read_text()) == {"refresh_token": RT, "access_token": AT}
    assert run_module(module, args(link, follow=True))["changed"] is False
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]  # the lock was next to the real file, and is gone


def test_attribute_only_change_goes_through_descriptors(run_module: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "app.json"
    run_module(module, args(target))
    os.chmod(target, 0o644)
    inode = os.stat(target).st_ino

    def by_path(*call: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise AssertionError(f"changed by path: {call}")

    fchmod_calls = TrackedList()
    run_module.track(fchmod_calls)
    real_fchmod = os.fchmod
    monkeypatch.setattr(os, "chmod", by_path)
    monkeypatch.setattr(os, "chown", by_path)
    monkeypatch.setattr(os, "lchown", by_path)
    monkeypatch.setattr(os, "fchmod", lambda fd, mode: (fchmod_calls.append(mode), real_fchmod(fd, mode)))
    result = run_module(module, args(target))
    monkeypatch.undo()
    assert not result.failed, result.get("msg")
    assert result["changed"] is True and result["changed_keys"] == []
    assert fchmod_calls == [0o600] and mode_of(target) == 0o600 and os.stat(target).st_ino == inode


def test_attribute_only_change_of_a_swapped_file_fails(run_module: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file checked is the file changed: if it is replaced in between, nothing is changed."""
    target = tmp_path / "app.json"
    run_module(module, args(target))
    os.chmod(target, 0o644)
    real_read_file = _config_task.read_file
    calls = []

    def swapping_read_file(location: t.Any) -> t.Any:
        result = real_read_file(location)
        calls.append(1)
        if len(calls) == 2:  # under the lock: swap the file for another one right after it was read
            os.rename(target, tmp_path / "moved.json")
            (tmp_path / "other.json").write_text(target.name)
            os.chmod(tmp_path / "other.json", 0o644)
            os.rename(tmp_path / "other.json", target)
        return result

    monkeypatch.setattr(_config_task, "read_file", swapping_read_file)
    result = run_module(module, args(target))
    assert result.failed and "was replaced while this task ran" in result["msg"]
    assert mode_of(target) == 0o644


@needs_root
@pytest.mark.parametrize("follow", [False, True])
def test_issue_input_link_of_an_app_user_to_a_root_file_is_refused(run_module: t.Any, tmp_path: t.Any, follow: bool) -> None:
    """Issue 6 item 1: /srv/app owned by appuser, /srv/app/zoho.env -> /etc/app-root.env (root, 0644)."""
    target = victim(tmp_path)
    before = untouched(target)
    app = tmp_path / "srv-app"
    app.mkdir()
    os.chown(app, OTHER, OTHER)
    link = app / "zoho.env"
    link.symlink_to(target)
    os.lchown(link, OTHER, OTHER)
    result = run_module(module, args(link, format="env", values={"TOKEN": RT}, owner=NOBODY, mode="0640", follow=follow))
    assert result.failed
    if follow:
        assert f"Refusing the directory {tmp_path.anchor}" in result["msg"] or "is reached through the symbolic link" in result["msg"]
        assert f"the symbolic link {link} (to {target}), which belongs to {NOBODY}" in result["msg"]
    else:
        assert result["msg"].startswith(f"{link} is a symbolic link to {target}; it is not followed.")
    assert untouched(target) == before
    assert sorted(os.listdir(app)) == ["zoho.env"]


@needs_root
def test_directory_of_another_user_is_trusted_only_for_that_users_file(run_module: t.Any, tmp_path: t.Any) -> None:
    app = tmp_path / "srv-app"
    app.mkdir()
    os.chown(app, OTHER, OTHER)
    refused = run_module(module, args(app / "zoho.json"))
    assert refused.failed and f"Refusing {app}: the directory belongs to {NOBODY}" in refused["msg"]
    assert "say so with `owner`." in refused["msg"] and os.listdir(app) == []
    result = run_module(module, args(app / "zoho.json", owner=NOBODY, mode="0640"))
    assert not result.failed, result.get("msg")
    assert os.stat(app / "zoho.json").st_uid == OTHER and mode_of(app / "zoho.json") == 0o640


@needs_root
def test_hard_link_to_a_root_file_in_a_users_directory_is_refused(run_module: t.Any, tmp_path: t.Any) -> None:
    target = victim(tmp_path)
    before = untouched(target)
    app = tmp_path / "srv-app"
    app.mkdir()
    os.chown(app, OTHER, OTHER)
    os.link(target, app / "zoho.env")
    result = run_module(module, args(app / "zoho.env", format="env", values={"ROOT_SETTING": "1"}, owner=NOBODY, mode="0640"))
    assert result.failed and "could have placed it there (as a link or a hard link)" in result["msg"]
    assert untouched(target) == before  # not chowned, not chmodded through the hard link


@needs_root
@pytest.mark.parametrize("mode", [0o775, 0o757, 0o777])
def test_group_or_world_writable_directory_without_sticky_bit_is_refused(run_module: t.Any, tmp_path: t.Any, mode: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    real = shared / "real.json"
    real.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    for path, extra in ((real, {}), (link, {"follow": True})):
        result = run_module(module, args(path, **extra))
        assert result.failed, path
        assert f"Refusing {shared}: the directory is writable by" in result["msg"] and f"chmod go-w {shared}" in result["msg"]
    assert real.read_text() == "{}"


@needs_root
def test_sticky_shared_directory_uses_only_trusted_entries(run_module: t.Any, tmp_path: t.Any) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    assert not run_module(module, args(shared / "mine.json")).failed  # like /tmp: our own file is fine
    planted = shared / "app.json"
    planted.write_text('{"refresh_token": "planted"}')
    os.chown(planted, OTHER, OTHER)
    before = untouched(planted)
    result = run_module(module, args(planted))
    assert result.failed and f"Refusing {planted}: it belongs to {NOBODY}" in result["msg"]
    assert untouched(planted) == before


@needs_root
def test_intermediate_link_of_another_user_cannot_lead_to_root_directories(run_module: t.Any, tmp_path: t.Any) -> None:
    (tmp_path / "etc").mkdir()
    app = tmp_path / "srv-app"
    app.mkdir()
    os.chown(app, OTHER, OTHER)
    (app / "conf").symlink_to(tmp_path / "etc")
    os.lchown(app / "conf", OTHER, OTHER)
    result = run_module(module, args(app / "conf" / "zoho.json", owner=NOBODY))
    assert result.failed and "is reached through the symbolic link" in result["msg"]
    assert os.listdir(tmp_path / "etc") == []


@needs_root
def test_follow_true_works_for_a_root_link_in_a_root_directory(run_module: t.Any, tmp_path: t.Any) -> None:
    target = victim(tmp_path)
    (tmp_path / "conf").mkdir()
    link = tmp_path / "conf" / "zoho.env"
    link.symlink_to(target)
    result = run_module(module, args(link, format="env", values={"TOKEN": RT}, owner=NOBODY, mode="0640", follow=True))
    assert not result.failed, result.get("msg")
    assert link.is_symlink() and target.read_text() == f"ROOT_SETTING=1\nTOKEN={RT}\n"
    assert os.stat(target).st_uid == OTHER and mode_of(target) == 0o640


def test_values_are_validated_without_echoing_them(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "app.env", format="env", values={"TOKEN": RT + "'"}))
    assert result.failed and "Cannot write TOKEN to the env file" in result["msg"]
    assert RT not in result.stdout


@pytest.mark.parametrize("value, quoted", [("1000.abc/def:ghi@x%y+z,w=v-u_", False), ("a b$c`d\"e#f&g", True)])
def test_env_file_is_read_back_by_sh(run_module: t.Any, tmp_path: t.Any, value: str, quoted: bool) -> None:
    target = tmp_path / "app.env"
    target.write_text("# app environment\nOTHER=1\n")
    result = run_module(module, args(target, format="env", values={"TOKEN": value}))
    assert result["changed"] is True
    assert target.read_text() == "# app environment\nOTHER=1\n" + (f"TOKEN='{value}'\n" if quoted else f"TOKEN={value}\n")
    shell = subprocess.run(["sh", "-c", '. ./app.env; printf %s "$TOKEN"'], cwd=str(tmp_path), check=True, capture_output=True, text=True)
    assert shell.stdout == value


def test_env_export_line_of_a_managed_key_is_rewritten_so_systemd_reads_it(run_module: t.Any, tmp_path: t.Any) -> None:
    """systemd's EnvironmentFile= ignores an "export KEY=value" line: the module drops "export" from managed lines only."""
    target = tmp_path / "app.env"
    target.write_text(f"export LOG_LEVEL=info\nexport ZOHO_THRIVE_REFRESH_TOKEN={RT}\n")
    result = run_module(module, args(target, format="env", values={"ZOHO_THRIVE_REFRESH_TOKEN": RT}))
    assert not result.failed, result.get("msg")
    assert result["changed"] is True and result["changed_keys"] == ["ZOHO_THRIVE_REFRESH_TOKEN"]
    assert target.read_text() == f"export LOG_LEVEL=info\nZOHO_THRIVE_REFRESH_TOKEN={RT}\n"
    assert run_module(module, args(target, format="env", values={"ZOHO_THRIVE_REFRESH_TOKEN": RT}))["changed"] is False


def test_env_shell_command_line_is_refused_naming_the_line_not_its_content(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.env"
    content = f"ZOHO_THRIVE_REFRESH_TOKEN={RT}\nLOG_LEVEL=info ZOHO_THRIVE_REFRESH_TOKEN=1000.old-S3CRET\n"
    target.write_text(content)
    result = run_module(module, args(target, format="env", values={"ZOHO_THRIVE_REFRESH_TOKEN": RT}))
    assert result.failed
    assert f"Cannot parse {target} as an env file: line 2 is not a KEY=value line but a shell command (several assignments" in result["msg"]
    assert "S3CRET" not in result.stdout and target.read_text() == content


def test_yaml_file_keeps_its_comments(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "settings.yml"
    target.write_text("# settings\nname: app  # keep\nrefresh_token: old\n")
    result = run_module(module, args(target, format="yaml"))
    assert result["changed"] is True
    assert target.read_text() == f'# settings\nname: app  # keep\nrefresh_token: {RT}\naccess_token: "{AT}"\n'  # plain as it was
    assert yaml.safe_load(target.read_text()) == {"name": "app", "refresh_token": RT, "access_token": AT}


def test_ini_section_is_created(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.ini"
    target.write_text("[app]\n; comment\nname = x\n")
    result = run_module(module, args(target, format="ini", ini_section="zoho"))
    assert result["changed"] is True
    assert target.read_text() == f"[app]\n; comment\nname = x\n\n[zoho]\nrefresh_token = {RT}\naccess_token = {AT}\n"
    assert run_module(module, args(target, format="ini", ini_section="zoho"))["changed"] is False


# -- check mode and diff ------------------------------------------------------------------------


def test_check_mode_creates_nothing(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "app.json", backup=True), check_mode=True)
    assert result["changed"] is True and result["created"] is True
    assert result["changed_keys"] == ["refresh_token", "access_token"]
    assert result["fingerprints"] == {"refresh_token": None, "access_token": None}  # nothing is in the file yet
    assert listing(tmp_path) == []  # no file, no lock file, no backup


def test_check_mode_leaves_an_existing_file_alone(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    target.write_text('{"refresh_token": "old"}')
    os.chmod(target, 0o644)
    before = snapshot(target)
    result = run_module(module, args(target, backup=True), check_mode=True)
    assert result["changed"] is True and result["created"] is False
    assert result["changed_keys"] == ["refresh_token", "access_token"]
    assert result["fingerprints"] == {"refresh_token": sha("old"), "access_token": None}
    assert snapshot(target) == before
    assert listing(tmp_path) == ["app.json"]


def test_check_mode_predicts_no_change(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    run_module(module, args(target))
    result = run_module(module, args(target), check_mode=True)
    assert result["changed"] is False and result["changed_keys"] == []


def test_diff_lists_key_states_and_file_attributes_never_values(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    target.write_text(json.dumps({"refresh_token": RT, "access_token": "old-access"}))
    os.chmod(target, 0o644)
    values = {"refresh_token": RT, "access_token": AT, "expires_at": 1700000000}
    result = run_module(module, args(target, values=values, _ansible_diff=True))
    assert result["diff"] == {
        "before": "(file mode): 0644\nrefresh_token: set\naccess_token: set\nexpires_at: absent\n",
        "after": "(file mode): 0600\nrefresh_token: unchanged\naccess_token: changed\nexpires_at: added\n",
        "before_header": str(target),
        "after_header": str(target),
    }
    # The diff is built from key names and states alone (output masking is not what keeps values out).
    diff_text = json.dumps(result["diff"])
    for secret in (RT, AT, "old-access", "1700000000", sha(RT), sha(AT), sha("old-access")):
        assert secret not in diff_text


def test_diff_of_a_new_file(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "app.json", _ansible_diff=True), check_mode=True)
    assert result["diff"]["before"] == "(file): absent\nrefresh_token: absent\naccess_token: absent\n"
    assert result["diff"]["after"] == "(file): created\nrefresh_token: added\naccess_token: added\n"


def test_diff_function_never_sees_values_it_could_leak() -> None:
    plan = _config_task.Plan("x", "y", ["a"], {"a": "current-secret", "b": None}, {}, -1, -1)
    diff = _config_task.diff(plan, {"a": "new-secret", "b": "other-secret"})
    assert diff == {"before": "a: set\nb: absent\n", "after": "a: changed\nb: unchanged\n"}


# -- backups ------------------------------------------------------------------------------------


def test_backup_keeps_the_three_newest(run_module: t.Any, tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, umask_000: None) -> None:
    target = tmp_path / "app.json"
    stamps = TrackedList()  # the module runs in a process of its own: count the stamps made there
    run_module.track(stamps)

    def next_stamp() -> str:
        stamps.append(f"2026010{len(stamps) + 1}T120000")
        return stamps[-1]

    monkeypatch.setattr(_config_file, "backup_stamp", next_stamp)
    first = run_module(module, args(target, backup=True, values={"refresh_token": "v0"}))
    assert "backup_file" not in first  # nothing to back up yet
    made = []
    for number in range(1, 6):
        result = run_module(module, args(target, backup=True, values={"refresh_token": f"v{number}"}))
        made.append(result["backup_file"])
    assert made == [f"{target}.2026010{day}T120000.bak" for day in range(1, 6)]
    backups = sorted(name for name in listing(tmp_path) if name.endswith(".bak"))
    assert backups == [f"app.json.2026010{day}T120000.bak" for day in (3, 4, 5)]
    for day, name in zip((3, 4, 5), backups):
        assert json.loads((tmp_path / name).read_text()) == {"refresh_token": f"v{day - 1}"}  # the content before that run
        assert mode_of(tmp_path / name) == 0o600
    # No backup when nothing is replaced.
    unchanged = run_module(module, args(target, backup=True, values={"refresh_token": "v5"}))
    assert unchanged["changed"] is False and "backup_file" not in unchanged
    os.chmod(target, 0o640)
    mode_only = run_module(module, args(target, backup=True, values={"refresh_token": "v5"}))
    assert mode_only["changed"] is True and "backup_file" not in mode_only


# -- owner and group ----------------------------------------------------------------------------


def test_numeric_owner_and_group_of_the_current_user(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    result = run_module(module, args(target, owner=str(os.geteuid()), group=str(os.getegid())))
    assert result["changed"] is True
    assert (os.stat(target).st_uid, os.stat(target).st_gid) == (os.geteuid(), os.getegid())
    assert run_module(module, args(target, owner=str(os.geteuid()), group=str(os.getegid())))["changed"] is False


@pytest.mark.parametrize("option, message", [("owner", "Unknown user 'no-such-user-zt'"), ("group", "Unknown group 'no-such-user-zt'")])
def test_unknown_owner_or_group_fails(run_module: t.Any, tmp_path: t.Any, option: str, message: str) -> None:
    result = run_module(module, args(tmp_path / "app.json", **{option: "no-such-user-zt"}))
    assert result.failed and message in result["msg"]
    assert listing(tmp_path) == []


@needs_root
def test_owner_change_alone_is_applied_and_diffed(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    run_module(module, args(target))
    inode = os.stat(target).st_ino
    result = run_module(module, args(target, owner=NOBODY, _ansible_diff=True))
    assert result["changed"] is True and result["changed_keys"] == []
    assert os.stat(target).st_uid == pwd.getpwnam(NOBODY).pw_uid
    assert os.stat(target).st_ino == inode
    assert "(file owner): root\n" in result["diff"]["before"] and f"(file owner): {NOBODY}\n" in result["diff"]["after"]


@needs_root
def test_replacement_keeps_the_existing_owner(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    target.write_text("{}")
    os.chmod(target, 0o600)
    uid = pwd.getpwnam(NOBODY).pw_uid
    os.chown(target, uid, 0)
    assert run_module(module, args(target))["changed"] is True
    assert os.stat(target).st_uid == uid
    assert json.loads(target.read_text())["refresh_token"] == RT


# -- read ---------------------------------------------------------------------------------------


def test_read_returns_current_values_and_fingerprints(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.env"
    target.write_text(f"export REFRESH_TOKEN='{RT}'\n")
    before = snapshot(target)
    result = run_module(module, {"path": str(target), "format": "env", "state": "read", "read_keys": ["REFRESH_TOKEN", "ACCESS_TOKEN"]})
    assert result["changed"] is False and result["exists"] is True
    assert result["current_values"] == {"REFRESH_TOKEN": RT, "ACCESS_TOKEN": None}
    assert result["fingerprints"] == {"REFRESH_TOKEN": sha(RT), "ACCESS_TOKEN": None}
    assert snapshot(target) == before
    assert listing(tmp_path) == ["app.env"]


def test_read_returns_values_under_their_aliases(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.env"
    target.write_text(f"ZOHO_THRIVE_REFRESH_TOKEN={RT}\n")
    args = {"path": str(target), "format": "env", "state": "read", "read_keys": ["ZOHO_THRIVE_REFRESH_TOKEN", "ZOHO_THRIVE_ACCESS_TOKEN"]}
    result = run_module(module, dict(args, read_aliases=["refresh_token", "access_token"]))
    assert result["current_values"] == {"refresh_token": RT, "access_token": None}
    assert result["fingerprints"] == {"refresh_token": sha(RT), "access_token": None}


@pytest.mark.parametrize("aliases", [["only_one"], ["same", "same"]])
def test_read_aliases_must_match_the_keys_one_to_one(run_module: t.Any, tmp_path: t.Any, aliases: list[str]) -> None:
    target = tmp_path / "app.env"
    target.write_text(f"A={RT}\n")
    result = run_module(module, {"path": str(target), "format": "env", "state": "read", "read_keys": ["A", "B"], "read_aliases": aliases})
    assert result.failed and "`read_aliases` must name each of the 2 `read_keys` once" in result["msg"]
    assert RT not in result["msg"]


def test_read_of_a_missing_file(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, {"path": str(tmp_path / "none.yml"), "format": "yaml", "state": "read", "read_keys": ["a"]}, check_mode=True)
    assert result["changed"] is False and result["exists"] is False
    assert result["current_values"] == {"a": None} and result["fingerprints"] == {"a": None}


def test_read_of_an_unparsable_file_fails(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.ini"
    target.write_text(f"token = {RT}\n")
    result = run_module(module, {"path": str(target), "format": "ini", "state": "read", "read_keys": ["token"]})
    assert result.failed and f"Cannot parse {target} as an ini file (line 1)" in result["msg"]


@pytest.mark.parametrize(
    "extra, missing",
    [({"values": None}, "values"), ({"state": "read", "values": None}, "read_keys")],
)
def test_required_options_per_state(run_module: t.Any, tmp_path: t.Any, extra: dict[str, t.Any], missing: str) -> None:
    call = args(tmp_path / "app.json", **extra)
    call = {key: value for key, value in call.items() if value is not None}
    result = run_module(module, call)
    assert result.failed and missing in result["msg"]


def test_values_option_is_no_log(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, t.Any]] = []

    class Recorder:
        def __init__(self, **kwargs: t.Any) -> None:
            seen.append(kwargs)
            raise RuntimeError("captured")

    monkeypatch.setattr(module, "AnsibleModule", Recorder)
    with pytest.raises(RuntimeError, match="captured"):
        module.main()
    spec = seen[0]["argument_spec"]
    assert spec["values"]["no_log"] is True
    assert seen[0]["supports_check_mode"] is True
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
        assert documented[name].get("choices") == option.get("choices"), name


# -- issue 7: byte-faithful files, no lock file left behind, option labels --------------------------

ISSUE_RT = "1000." + "a" * 32 + "." + "b" * 32  # 70 characters


def sh_reads(directory: t.Any, name: str, key: str) -> str:
    shell = subprocess.run(["sh", "-c", f'. ./{name}; printf %s "${key}"'], cwd=str(directory), check=True, capture_output=True, text=True)
    return shell.stdout


def test_issue_input_crlf_env_file_two_runs(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.env"
    target.write_bytes(b"LOG_LEVEL=info\r\nZOHO_THRIVE_REFRESH_TOKEN=1000.old.old\r\n")
    call = args(target, format="env", values={"ZOHO_THRIVE_REFRESH_TOKEN": ISSUE_RT}, _ansible_diff=True)
    predicted = run_module(module, call, check_mode=True)
    first = run_module(module, call)
    assert not first.failed, first.get("msg")
    assert first["changed"] is True and first["changed_keys"] == ["ZOHO_THRIVE_REFRESH_TOKEN"]
    assert any("CRLF" in warning for warning in first.warning_messages)
    assert (predicted["changed"], predicted["changed_keys"], predicted["diff"]) == (first["changed"], first["changed_keys"], first["diff"])
    assert "(file line endings): CRLF\n" in first["diff"]["before"] and "(file line endings): LF\n" in first["diff"]["after"]
    assert target.read_bytes() == f"LOG_LEVEL=info\nZOHO_THRIVE_REFRESH_TOKEN={ISSUE_RT}\n".encode()
    assert len(sh_reads(tmp_path, "app.env", "ZOHO_THRIVE_REFRESH_TOKEN")) == 70
    second = run_module(module, call)
    assert second["changed"] is False and second["changed_keys"] == [] and second.warning_messages == []


def test_issue_input_yaml_document_markers(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.yml"
    target.write_text("---\n# generator\nlog_level: info\n...\n")
    result = run_module(module, args(target, format="yaml"))
    assert not result.failed, result.get("msg")
    assert target.read_text() == f'---\n# generator\nlog_level: info\nrefresh_token: "{RT}"\naccess_token: "{AT}"\n...\n'
    assert run_module(module, args(target, format="yaml"))["changed"] is False


def test_no_lock_file_is_left_behind(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    assert run_module(module, args(target))["changed"] is True
    os.chmod(target, 0o644)
    assert run_module(module, args(target))["changed"] is True  # a mode-only change takes the lock too
    assert run_module(module, args(target, values={"refresh_token": "other"}))["changed"] is True
    assert listing(tmp_path) == ["app.json"]


def test_unquoted_yaml_mode_is_refused_with_the_quoted_form(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "app.json", mode=640, option_labels={"mode": "thrive_tokens_config_mode"}))
    assert result.failed
    assert result["msg"].startswith("`thrive_tokens_config_mode` is the integer 640")
    assert "'0640'" in result["msg"] and "01200" in result["msg"]
    assert listing(tmp_path) == []


# Check mode and --diff predict the real run exactly: the same refusal, the same keys, the same diff and warnings.
PREDICTED_CASES = {
    "env-crlf": ("env", b"NAME=app\r\nTOKEN=old\r\n", {"TOKEN": RT}),
    "env-crlf-unchanged-values": ("env", f"TOKEN={RT}\r\n".encode(), {"TOKEN": RT}),
    "env-bom": ("env", b"\xef\xbb\xbfTOKEN=old\n", {"TOKEN": RT}),
    "env-lone-cr": ("env", b"A=1\rTOKEN=old\n", {"TOKEN": RT}),
    "env-comment": ("env", b"TOKEN=old # c\n", {"TOKEN": RT}),
    "env-export": ("env", b"export A=1\nexport TOKEN=old\n", {"TOKEN": RT}),
    "env-export-same-value": ("env", f"export TOKEN={RT}\n".encode(), {"TOKEN": RT}),
    "env-backslash-comment": ("env", b"# note \\\nTOKEN=old\n", {"TOKEN": RT}),
    "env-backslash-comment-at-end": ("env", b"A=1\n# end \\", {"TOKEN": RT}),
    "env-crlf-backslash-comment": ("env", b"# note \\\r\nA=1\r\nTOKEN=old\r\n", {"TOKEN": RT}),
    "env-command": ("env", b"A=1; TOKEN=old\n", {"TOKEN": RT}),
    "env-continued": ("env", b'A="x\nTOKEN=old\nB="\n', {"TOKEN": RT}),
    "env-substitution": ("env", b"A=$(date)\nTOKEN=old\n", {"TOKEN": RT}),
    "yaml-tab": ("yaml", b"log_level: info\t# verbose\ntoken: old\n", {"token": RT}),
    "ini-comment-in-value": ("ini", b"[zoho_thrive]\ntoken = old\n  more\n# note\n  end\n", {"token": RT}),
    "yaml-markers": ("yaml", b"---\nname: app\n...\n", {"token": RT}),
    "yaml-mixed": ("yaml", b"name: app\r\ntoken: old\n", {"token": RT}),
    "yaml-bom-crlf": ("yaml", b"\xef\xbb\xbfname: app\r\ntoken: old # c\r\n", {"token": RT, "added": 5}),
    "ini-lone-cr": ("ini", b"[zoho_thrive]\rtoken = old\r", {"token": RT}),
    "ini-tabs": ("ini", b"[zoho_thrive]\n\ttoken\t=\told\n", {"token": RT, "added": "x"}),
    "json-nested": ("json", b'{"nested": {"token": "keep"}, "token": "old"}', {"token": RT, "added": 1}),
    "json-broken": ("json", b'{"token": "old",}', {"token": RT}),
}


@pytest.mark.parametrize("case", sorted(PREDICTED_CASES))
def test_check_mode_and_diff_predict_the_real_run(run_module: t.Any, tmp_path: t.Any, case: str) -> None:
    fmt, content, values = PREDICTED_CASES[case]
    target = tmp_path / f"app.{fmt}"
    target.write_bytes(content)
    os.chmod(target, 0o600)
    call = args(target, format=fmt, values=values, _ansible_diff=True)
    predicted = run_module(module, call, check_mode=True)
    assert target.read_bytes() == content and listing(tmp_path) == [target.name]  # check mode changes nothing
    real = run_module(module, call)
    for field in ("failed", "msg", "changed", "changed_keys", "created", "diff"):
        assert predicted.get(field) == real.get(field), field
    assert predicted.warning_messages == real.warning_messages
    if real.failed:
        assert target.read_bytes() == content  # a refusal changes nothing, not even the mode
        assert RT not in real["msg"] and "old" not in real["msg"].replace("hold", "")
    else:
        again = run_module(module, call)
        assert again["changed"] is False and again["changed_keys"] == []
    assert listing(tmp_path) == [target.name]  # no lock, no temporary file


# -- lock files left by earlier versions ----------------------------------------------------------


def test_lock_file_of_an_earlier_version_is_removed_by_the_next_real_run(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    run_module(module, args(target))
    (tmp_path / ".app.json.lock").write_bytes(b"")  # as earlier versions left it
    os.chmod(tmp_path / ".app.json.lock", 0o600)
    before = snapshot(target)
    assert run_module(module, args(target), check_mode=True)["changed"] is False
    assert listing(tmp_path) == [".app.json.lock", "app.json"]  # check mode changes nothing
    result = run_module(module, args(target))
    assert result["changed"] is False  # housekeeping, not a change of the managed file
    assert listing(tmp_path) == ["app.json"] and snapshot(target) == before
    read = run_module(module, {"path": str(target), "state": "read", "read_keys": ["refresh_token"]})
    assert not read.failed and listing(tmp_path) == ["app.json"]


@pytest.mark.parametrize("kind", ["non-empty", "hard-linked", "directory", "symlink"])
def test_something_else_named_like_a_lock_file_is_left_alone(run_module: t.Any, tmp_path: t.Any, kind: str) -> None:
    target = tmp_path / "app.json"
    run_module(module, args(target))
    lock = tmp_path / ".app.json.lock"
    if kind == "non-empty":
        lock.write_bytes(b"someone's notes")
    elif kind == "hard-linked":
        lock.write_bytes(b"")
        os.link(lock, tmp_path / "other-name")
    elif kind == "directory":
        lock.mkdir()
    else:
        lock.symlink_to(tmp_path / "nowhere")
    result = run_module(module, args(target))  # nothing to change: the module does not touch what is not its lock
    assert not result.failed, result.get("msg")
    assert result["changed"] is False
    assert os.path.lexists(lock) and not (tmp_path / "nowhere").exists()


@needs_root
def test_lock_file_of_another_user_is_left_alone(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.json"
    run_module(module, args(target))
    lock = tmp_path / ".app.json.lock"
    lock.write_bytes(b"")
    os.chown(lock, OTHER, OTHER)
    assert not run_module(module, args(target, values={"refresh_token": "new"})).failed
    assert lock.exists()


CONCURRENT_WRITER = """
import json, sys
from ansible.module_utils import basic
sys.argv = [sys.argv[0], sys.argv[1]]
from ansible_collections.zohothrive.oauth.plugins.modules import zoho_thrive_config
zoho_thrive_config.main()
"""


@pytest.mark.parametrize("fmt", ["env", "json"])
def test_concurrent_writers_of_one_file_lose_no_update(tmp_path: t.Any, fmt: str) -> None:
    """Eight module runs at once, each adding its own key: the lock serialises them, every key arrives, no lock file stays."""
    import sys

    import ansible

    root = str(module.__file__).rsplit("/ansible_collections/", 1)[0]
    target = tmp_path / f"app.{fmt}"
    target.write_text("" if fmt == "env" else "{}")
    os.chmod(target, 0o600)
    procs = []
    for number in range(8):
        arguments = tmp_path / f"args{number}.json"
        arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"path": str(target), "format": fmt, "values": {f"KEY_{number}": f"v{number}"}}}))
        # The child imports ansible as this process does (ansible-test puts it on sys.path, not always on PYTHONPATH).
        ansible_root = os.path.dirname(os.path.dirname(ansible.__file__))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, ansible_root, os.environ.get("PYTHONPATH")])))
        procs.append(subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(arguments)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env))
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, (out, err)
        assert json.loads(out)["changed"] is True
    found = _config_file.read_managed(str(target), fmt, [f"KEY_{number}" for number in range(8)])
    assert found == {f"KEY_{number}": f"v{number}" for number in range(8)}
    assert sorted(name for name in listing(tmp_path) if not name.startswith("args")) == [target.name]


# -- option_labels ----------------------------------------------------------------------------------

ROLE_LABELS = {
    "path": "thrive_tokens_config_path",
    "follow": "thrive_tokens_config_follow",
    "mode": "thrive_tokens_config_mode",
    "format": "thrive_tokens_config_format",
    "owner": "thrive_tokens_config_owner",
    "values": "thrive_tokens_keys",
}


def test_option_labels_rename_options_in_failures(run_module: t.Any, tmp_path: t.Any) -> None:
    target = victim(tmp_path)
    link = tmp_path / "zoho.env"
    link.symlink_to(target)
    result = run_module(module, args(link, format="env", values={"TOKEN": RT}, option_labels=ROLE_LABELS))
    assert result.failed
    assert result["msg"].endswith(
        "Point `thrive_tokens_config_path` at the real file, or set `thrive_tokens_config_follow` to true if the link and its directories are trusted."
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = run_module(module, args(broken, option_labels=ROLE_LABELS))
    assert result.failed and "choose the right `thrive_tokens_config_format`" in result["msg"]
    result = run_module(module, args(tmp_path / "app.json", owner="no-such-user-zt", option_labels=ROLE_LABELS))
    assert result.failed and "in `thrive_tokens_config_owner` on this host" in result["msg"]


def test_option_labels_rename_options_in_warnings(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "app.json", mode="0644", option_labels=ROLE_LABELS))
    assert any(warning.startswith("`thrive_tokens_config_mode` 0644 lets every user") for warning in result.warning_messages)
    plain = run_module(module, args(tmp_path / "other.json", mode="0644"))
    assert any(warning.startswith("`mode` 0644 lets every user") for warning in plain.warning_messages)


@pytest.mark.parametrize("labels, message", [({"mode": "bad label!"}, "a label that is not a plain variable name"), ({"1x": "y"}, "not an option name")])
def test_invalid_option_labels_fail_before_anything_is_done(run_module: t.Any, tmp_path: t.Any, labels: dict[str, str], message: str) -> None:
    result = run_module(module, args(tmp_path / "app.json", option_labels=labels))
    assert result.failed and message in result["msg"] and "`option_labels`" in result["msg"]
    assert listing(tmp_path) == []


def test_messages_name_options_in_backticks(run_module: t.Any, tmp_path: t.Any) -> None:
    cases = [
        (args(tmp_path / "a.json", values={}), "`values`"),
        (args(tmp_path / "a.ini", format="ini", ini_section=" x"), "Invalid `ini_section`"),
        (args(tmp_path / "a.json", group="no-such-group-zt"), "in `group` on this host"),
        (args(tmp_path / "a.json", mode="u=rw"), "Invalid `mode`"),
        ({"path": str(tmp_path / "a.env"), "format": "env", "state": "read", "read_keys": ["1bad"]}, "of `read_keys`"),
    ]
    for call, fragment in cases:
        result = run_module(module, call)
        assert result.failed and fragment in result["msg"], (fragment, result.get("msg"))


# -- pending: keys whose value check mode cannot know (for the role's check mode, issue 7 item 5) ----


def test_pending_keys_are_predicted_as_changing_without_a_value(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.env"
    target.write_text(f"ZOHO_THRIVE_REFRESH_TOKEN={RT}\nZOHO_THRIVE_API_DOMAIN=https://www.zohoapis.com\n")
    os.chmod(target, 0o600)
    before = snapshot(target)
    call = args(
        target,
        format="env",
        values={"ZOHO_THRIVE_API_DOMAIN": "https://www.zohoapis.com"},
        pending=["ZOHO_THRIVE_REFRESH_TOKEN", "ZOHO_THRIVE_ACCESS_TOKEN"],
        _ansible_diff=True,
    )
    result = run_module(module, call, check_mode=True)
    assert not result.failed, result.get("msg")
    assert result["changed"] is True
    assert result["changed_keys"] == ["ZOHO_THRIVE_REFRESH_TOKEN", "ZOHO_THRIVE_ACCESS_TOKEN"]
    assert result["diff"]["after"] == "ZOHO_THRIVE_API_DOMAIN: unchanged\nZOHO_THRIVE_REFRESH_TOKEN: changed\nZOHO_THRIVE_ACCESS_TOKEN: added\n"
    assert result["fingerprints"] == {
        "ZOHO_THRIVE_API_DOMAIN": sha("https://www.zohoapis.com"),
        "ZOHO_THRIVE_REFRESH_TOKEN": sha(RT),  # what the file holds now
        "ZOHO_THRIVE_ACCESS_TOKEN": None,
    }
    assert _config_task.PENDING_PLACEHOLDER not in result.stdout
    assert snapshot(target) == before


def test_pending_predicts_the_refusal_of_the_real_run(run_module: t.Any, tmp_path: t.Any) -> None:
    target = tmp_path / "app.yml"
    target.write_text("refresh_token: &t old\nother: *t\n")
    result = run_module(module, args(target, format="yaml", values={"api_domain": "x"}, pending=["refresh_token"]), check_mode=True)
    assert result.failed and "would change other values too" in result["msg"]


@pytest.mark.parametrize(
    "extra, check_mode, message",
    [
        ({"pending": ["refresh_token"]}, False, "`pending` names keys without a value (refresh_token); it is for check mode only"),
        ({"pending": ["access_token"]}, True, "The keys access_token are both in `values` and in `pending`"),
        ({"pending": ["bad key"], "format": "env"}, True, "Cannot manage the key 'bad key' of `pending`"),
    ],
)
def test_pending_misuse_fails(run_module: t.Any, tmp_path: t.Any, extra: dict[str, t.Any], check_mode: bool, message: str) -> None:
    result = run_module(module, args(tmp_path / "app.json", **extra), check_mode=check_mode)
    assert result.failed and message in result["msg"]
    assert listing(tmp_path) == []


def test_pending_alone_needs_no_values(run_module: t.Any, tmp_path: t.Any) -> None:
    result = run_module(module, args(tmp_path / "app.json", values={}, pending=["refresh_token"]), check_mode=True)
    assert not result.failed and result["changed_keys"] == ["refresh_token"] and result["created"] is True
