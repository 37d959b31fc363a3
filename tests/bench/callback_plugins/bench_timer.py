# Copyright (c) zohothrive.oauth contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-task timing for `make bench` (tests/bench/run_bench.py); not part of the collection.

Enabled by run_bench.py with ANSIBLE_CALLBACK_PLUGINS=tests/bench/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=bench_timer. At the end of the playbook it writes one JSON file, named by
the environment variable ZT_BENCH_TIMER_FILE:

    {"start": EPOCH, "end": EPOCH,
     "tasks": [{"name", "action", "start", "span", "ok", "changed", "skipped", "failed", "module_runs"}]}

`span` is the time in seconds from the start of the task to the start of the next task (or the
end of the playbook): with the linear strategy that is the time every host of the batch spent on
it, plus the strategy's own overhead. `module_runs` counts the results (one per host, or one for a
run_once task) of tasks whose action runs a module; actions that run on the controller only
(assert, debug, set_fact, fail, meta, include_*) count zero. Only task names, actions and counters
are recorded, never a result's values.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Per-task timings for the zohothrive.oauth benchmark
description:
  - Writes task names, actions, spans in seconds and result counters to the JSON file named by E(ZT_BENCH_TIMER_FILE).
requirements:
  - Enabled in the configuration (ANSIBLE_CALLBACKS_ENABLED).
"""

import json
import os
import time
import typing as t

from ansible.plugins.callback import CallbackBase

# Actions that never start a module process: an action plugin does all their work on the controller.
CONTROLLER_ONLY_ACTIONS = (
    "assert", "debug", "fail", "include_role", "include_tasks", "include_vars", "import_role", "import_tasks", "meta", "set_fact", "set_stats",
    "validate_argument_spec",
)
CONTROLLER_ONLY = frozenset(name for short in CONTROLLER_ONLY_ACTIONS for name in (short, f"ansible.builtin.{short}", f"ansible.legacy.{short}"))


class CallbackModule(CallbackBase):
    """Record when each task starts and what its results were."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._start = time.time()
        self._tasks: list[dict[str, t.Any]] = []

    def _begin(self, task: t.Any) -> None:
        self._tasks.append(
            {
                "name": task.get_name(),
                "action": task.action,
                "start": time.time(),
                "ok": 0,
                "changed": 0,
                "skipped": 0,
                "failed": 0,
                "module_runs": 0,
            }
        )

    def _count(self, result: t.Any, outcome: str) -> None:
        if not self._tasks:
            return
        entry = self._tasks[-1]
        entry[outcome] += 1
        if outcome == "ok" and result._result.get("changed"):  # pylint: disable=protected-access
            entry["changed"] += 1
        if outcome != "skipped" and entry["action"] not in CONTROLLER_ONLY:
            entry["module_runs"] += 1

    def v2_playbook_on_start(self, playbook: t.Any) -> None:
        self._start = time.time()

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        self._begin(task)

    def v2_playbook_on_handler_task_start(self, task: t.Any) -> None:
        self._begin(task)

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._count(result, "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._count(result, "failed")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._count(result, "skipped")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._count(result, "failed")

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        end = time.time()
        for entry, following in zip(self._tasks, self._tasks[1:] + [None]):
            entry["span"] = (following["start"] if following else end) - entry["start"]
        target = os.environ.get("ZT_BENCH_TIMER_FILE")
        if target:
            with open(target, "w", encoding="utf-8") as handle:
                json.dump({"start": self._start, "end": end, "tasks": self._tasks}, handle)
