"""--check --diff predicts the real run that follows, key for key and host for host (issue 7, item 5).

Every scenario runs the prediction, then the real run, and compares: refresh only, a fresh controller
with or without the code, rotation (also with revocation of the replaced token, and on a fresh
controller), and without access tokens in the files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_role_operator import diff_keys
from test_role_thrive_tokens import Site, assert_ok, changed_hosts, recap

from conftest import Emulator, PlaybookRun


@pytest.fixture()
def site(fresh_emulator: Emulator, ansible_playbook, tmp_path: Path) -> Site:
    return Site(tmp_path / "site", fresh_emulator, ansible_playbook, ["json", "yaml", "ini", "env"])


def _predict_then_run(site: Site) -> tuple[dict[str, set[str]], dict[str, set[str]], set[str], set[str]]:
    predicted = site.run("--check", "--diff")
    assert_ok(predicted)
    real = site.run("--diff")
    assert_ok(real)
    return diff_keys(predicted), diff_keys(real), changed_hosts(predicted), changed_hosts(real)


def test_refresh_only_prediction_matches(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    site.vars["thrive_tokens_min_ttl"] = 7200  # the access token must be refreshed
    predicted, real, predicted_hosts, real_hosts = _predict_then_run(site)
    assert predicted == real
    assert predicted_hosts == real_hosts


def test_fresh_controller_with_hosts_holding_tokens_prediction_matches(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    site.cache.unlink()  # a new CI runner: the controller lost its store, the hosts hold the tokens
    predicted, real, predicted_hosts, real_hosts = _predict_then_run(site)
    assert predicted == real
    assert predicted_hosts == real_hosts


def test_fresh_controller_without_code_prediction_matches(site: Site) -> None:
    site.new_code()
    assert_ok(site.run())
    site.cache.unlink()
    del site.vars["thrive_tokens_grant_code"]
    predicted, real, predicted_hosts, real_hosts = _predict_then_run(site)
    assert predicted == real
    assert predicted_hosts == real_hosts


def test_no_access_token_written_rotation_prediction_matches(site: Site) -> None:
    site.vars["thrive_tokens_write_access_token"] = False
    site.new_code()
    assert_ok(site.run())
    site.new_code()
    predicted, real, predicted_hosts, real_hosts = _predict_then_run(site)
    assert predicted == real
    assert predicted_hosts == real_hosts


def _ledger_status(run: PlaybookRun) -> str:
    """ok or changed: the status line of the ledger task (revokes replaced refresh tokens)."""
    block = run.stdout.split("Record which refresh token each host holds, and revoke the replaced ones no host holds]", 1)[1]
    return re.search(r"^(ok|changed): \[", block, flags=re.MULTILINE).group(1)


def test_rotation_with_revoke_replaced_check_mode_predicts_the_revocation(site: Site) -> None:
    """README/demo site.yml sets thrive_tokens_revoke_replaced: true: --check shows that the rotation revokes the old token."""
    site.vars["thrive_tokens_revoke_replaced"] = True
    site.new_code()
    assert_ok(site.run())
    site.new_code()
    predicted = site.run("--check", "--diff", "-v")
    assert_ok(predicted)
    assert site.emulator.state()["revokes"] == 0  # check mode sent nothing
    real = site.run("--diff", "-v")
    assert_ok(real)
    assert site.emulator.state()["revokes"] == 1  # the real run revoked the replaced refresh token
    assert _ledger_status(real) == "changed"  # the real run revoked the replaced refresh token
    assert _ledger_status(predicted) == _ledger_status(real), "check mode does not predict the revocation"
    assert recap(predicted) == recap(real)


def test_fresh_controller_rotation_prediction_matches(site: Site) -> None:
    """A new CI runner (no token store) rotates to a new code while the hosts hold the old code's tokens."""
    site.vars["thrive_tokens_revoke_replaced"] = True
    site.new_code()
    assert_ok(site.run())
    site.cache.unlink()
    site.new_code()
    predicted = site.run("--check", "--diff")
    assert_ok(predicted)
    real = site.run("--diff")
    assert_ok(real)
    assert diff_keys(predicted) == diff_keys(real)
    assert recap(predicted) == recap(real)
