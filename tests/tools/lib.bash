# shellcheck shell=bash
# Shared settings for the scripts in tests/tools/. Sourced, never executed.
#
# Every path can be overridden from the environment (the Makefile passes them), so the
# scripts also work when called by hand from the repository root.

set -euo pipefail

ZT_ROOT="${ZT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}"
ZT_BUILD="${ZT_BUILD:-${ZT_ROOT}/.build}"
ZT_VENV="${ZT_VENV:-${ZT_ROOT}/.venv}"
ZT_COLL_DIR="${ZT_COLL_DIR:-${ZT_BUILD}/ansible_collections/zohothrive/oauth}"
ZT_PYBIN="${ZT_PYBIN:-${ZT_BUILD}/pybin}"
ZT_TEST_HOME="${ZT_TEST_HOME:-${ZT_BUILD}/home}"
ZT_TOOLS="${ZT_ROOT}/tests/tools"
if [[ -e "${ZT_BUILD}" && ! -d "${ZT_BUILD}" ]]; then
    printf '[%s] ERROR: ZT_BUILD=%s (the build directory, BUILD in make) is not a directory; remove it or set another path\n' \
        "$(basename "$0")" "${ZT_BUILD}" >&2
    exit 1
fi

# Interpreter-versioned binaries first (ansible-test looks for python3.N on PATH and the
# pyenv shims only answer "command not found"), then the controller venv.
export PATH="${ZT_PYBIN}:${ZT_VENV}/bin:${PATH}"
export ANSIBLE_COLLECTIONS_PATH="${ZT_BUILD}"
export ANSIBLE_NOCOLOR=1
export NO_COLOR=1
export PYTHONDONTWRITEBYTECODE=1

zt_log() {
    printf '[%s] %s\n' "$(basename "$0")" "$*" >&2
}

zt_die() {
    zt_log "ERROR: $*"
    exit 1
}

zt_require_venv() {
    [[ -x "${ZT_VENV}/bin/python" ]] || zt_die "no venv at ${ZT_VENV}; run 'make venv' first"
}

zt_require_collection() {
    [[ -f "${ZT_COLL_DIR}/galaxy.yml" ]] || zt_die "no collection copy at ${ZT_COLL_DIR}; run 'make collection' first"
}

# Run the rest of the script with HOME under .build/home, so that ansible-test's venvs and
# caches, molecule's collection install and ansible's tmp dirs never land in the real HOME.
# ansible-test's pip bootstrap script is seeded there (see seed-ansible-test-cache).
zt_isolate_home() {
    mkdir -p "${ZT_TEST_HOME}"
    export HOME="${ZT_TEST_HOME}"
    # ansible-lint and molecule install the collection here; never let an old copy linger.
    rm -rf "${HOME}/.ansible/collections/ansible_collections/zohothrive"
    "${ZT_VENV}/bin/python" "${ZT_TOOLS}/seed-ansible-test-cache" --home "${HOME}"
}
