"""Spoken alert sentences: short, never secrets or arguments, coalesced and rate-limited."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from engine import (
    ApprovalDecided,
    ApprovalRequested,
    Engine,
    Event,
    NodeHealthChanged,
    RunFinished,
    TaskChanged,
)
from engine.voice import Alert, SpeechOutcome, VoiceAlerts, alert_for, coalesce
from tests.conftest import make_settings
from tests.engine.voice.conftest import voice_settings

SECRET = "tok_3f9a1c7e55b2d8aa"


def approval(request_id: str, tool: str = "apply_patch", minutes: float = 30) -> ApprovalRequested:
    return ApprovalRequested(request_id, tool, "agent:planner", time.time() + minutes * 60)


# -- sentences --------------------------------------------------------------------------------


def test_approval_sentence_names_the_tool_and_time_left() -> None:
    now = 1_000_000.0
    event = ApprovalRequested("req_1", "apply_patch", "agent", now + 30 * 60 - 0.01)
    alert = alert_for(event, now=now)
    assert alert is not None
    assert alert.text == "Approval needed: apply_patch, expires in 30 minutes"
    soon = ApprovalRequested("req_2", "shell_exec", "agent", now + 42)
    assert alert_for(soon, now=now) == Alert(
        "approval", "req_2", "Approval needed: shell_exec, expires in less than a minute"
    )
    one = alert_for(ApprovalRequested("req_3", "git_commit", "agent", now + 61), now=now)
    assert one is not None and one.text.endswith("expires in 1 minute")
    gone = alert_for(ApprovalRequested("req_4", "git_commit", "agent", now - 5), now=now)
    assert gone is not None and gone.text == "Approval needed: git_commit, has expired"
    hours = alert_for(ApprovalRequested("req_5", "git_commit", "agent", now + 3 * 3600), now=now)
    assert hours is not None and hours.text.endswith("expires in 3 hours")


def test_task_and_node_sentences() -> None:
    failed = alert_for(TaskChanged("task_Ab3xYz9QwErTy", "failed"))
    assert failed is not None and failed.text == "Task Ab3xYz failed"
    broke = alert_for(TaskChanged("task_Zz9yYx8Ww", "budget_exhausted"))
    assert broke is not None and broke.text == "Task Zz9yYx ran out of budget"
    down = alert_for(NodeHealthChanged("windows", "unreachable", None, "ok"))
    assert down is not None and down.text == "Node windows is unreachable"
    refused = alert_for(NodeHealthChanged("lab", "unauthorized", previous="ok"))
    assert refused is not None and refused.text == "Node lab refused the token"


@pytest.mark.parametrize(
    "event",
    [
        TaskChanged("task_x", "running"),
        TaskChanged("task_x", "completed"),
        TaskChanged("task_x", "waiting_approval"),  # its ApprovalRequested speaks instead
        NodeHealthChanged("windows", "ok", 12.0),
        RunFinished(1, "git_status", "ok", "trace"),
        ApprovalDecided("req_1", "apply_patch", "approved", "alice"),
    ],
)
def test_routine_events_stay_quiet(event: Event) -> None:
    assert alert_for(event) is None


def test_names_are_cleaned_and_bounded() -> None:
    event = NodeHealthChanged("win\x07dows; rm -rf / " + "x" * 100, "unreachable", previous="ok")
    alert = alert_for(event)
    assert alert is not None
    assert "\x07" not in alert.text and ";" not in alert.text and "/" not in alert.text
    assert len(alert.text) <= len("Node  is unreachable") + 40


async def test_a_token_in_the_arguments_never_reaches_the_sentence(
    workspace: Path, db_path: Path
) -> None:
    """A real approval request whose arguments hold a token: the alert has only the tool."""
    settings = make_settings(workspace, db_path, EXECUTION_TOKEN=SECRET)
    async with Engine.open(settings) as eng:
        await eng.set_tool_enabled("filesystem_write", True)
        alerts = VoiceAlerts(settings)
        with eng.bus.subscription() as events:
            result = await eng.run(
                "filesystem_write",
                {"path": "deploy.env", "content": f"API_TOKEN={SECRET}\nOTHER=ghp_abcdef123456\n"},
                requester="agent:planner",
                reason=f"rotate {SECRET}",
            )
            assert result.status == "pending_approval"
            requested = None
            while requested is None:
                event = await asyncio.wait_for(events.get(), 5)
                if isinstance(event, ApprovalRequested):
                    requested = event
    sentence = alerts.sentence_for(requested)
    assert sentence == "Approval needed: filesystem_write, expires in 30 minutes"
    for leak in (SECRET, "ghp_", "API_TOKEN", "deploy.env", "agent:planner", "rotate"):
        assert leak not in sentence


def test_a_configured_secret_is_scrubbed_even_from_a_name(tmp_path: Path) -> None:
    alerts = VoiceAlerts(voice_settings(tmp_path, WINDOWS_NODE_TOKEN=SECRET))
    sentence = alerts.sentence_for(
        NodeHealthChanged(f"node-{SECRET}", "unreachable", previous="ok")
    )
    assert sentence == "Node node-a secret is unreachable"


# -- coalescing -------------------------------------------------------------------------------


def test_coalesce_counts_distinct_requests_tasks_and_nodes() -> None:
    batch = [
        alert_for(approval("req_1")),
        alert_for(approval("req_2")),
        alert_for(approval("req_3", tool="shell_exec")),
        alert_for(TaskChanged("task_aaaaaa1", "failed")),
        alert_for(NodeHealthChanged("windows", "unreachable", previous="ok")),
        alert_for(
            NodeHealthChanged("windows", "error", previous="ok")
        ),  # the same node twice: one node
    ]
    text = coalesce(a for a in batch if a is not None)
    assert text == "3 approvals waiting. Task aaaaaa failed. Node windows reports an error"


def test_coalesce_keeps_one_alert_as_it_is_and_caps_the_parts() -> None:
    single = alert_for(approval("req_1"))
    assert single is not None
    assert coalesce([single]) == "Approval needed: apply_patch, expires in 30 minutes"
    many = [Alert(kind, kind, f"{kind} alert") for kind in ("a", "b", "c", "d", "e")]
    assert coalesce(many) == "a alert. b alert. 3 more alerts"


# -- the worker: burst, rate limit, queue -----------------------------------------------------


class Outcomes:
    """Collects what the worker hands the console, with the loop time it arrived."""

    def __init__(self) -> None:
        self.items: list[tuple[float, SpeechOutcome]] = []
        self._changed = asyncio.Event()

    def __call__(self, outcome: SpeechOutcome) -> None:
        self.items.append((asyncio.get_running_loop().time(), outcome))
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()


async def test_burst_becomes_one_sentence_and_the_next_waits_for_the_interval(
    tmp_path: Path, bin_dir: Path, no_coqui: None
) -> None:
    """Speech is unavailable here (no espeak-ng, no TTS): outcomes are bells, still limited."""
    alerts = VoiceAlerts(voice_settings(tmp_path), min_interval=0.6, burst_window=0.05)
    outcomes = Outcomes()
    worker = asyncio.create_task(alerts.drain(outcomes))
    try:
        for n in range(3):
            assert alerts.submit(approval(f"req_{n}"))
        await outcomes.wait_for(1)
        first_at, first = outcomes.items[0]
        assert first.text == "3 approvals waiting"
        assert first.bell and first.wav_path is None and not first.played
        assert alerts.submit(TaskChanged("task_bbbbbb2", "failed"))
        assert alerts.submit(NodeHealthChanged("windows", "unreachable", previous="ok"))
        assert not alerts.submit(TaskChanged("task_bbbbbb2", "running"))  # nothing to say
        await outcomes.wait_for(2)
        second_at, second = outcomes.items[1]
        assert second.text == "Task bbbbbb failed. Node windows is unreachable"
        assert second_at - first_at >= 0.6 - 0.02  # never twice within the interval
        assert len(outcomes.items) == 2
    finally:
        worker.cancel()


async def test_an_approval_decided_before_it_is_spoken_is_not_spoken(
    tmp_path: Path, bin_dir: Path, no_coqui: None
) -> None:
    alerts = VoiceAlerts(voice_settings(tmp_path), min_interval=0.1, burst_window=0.2)
    outcomes = Outcomes()
    worker = asyncio.create_task(alerts.drain(outcomes))
    try:
        alerts.submit(approval("req_fast", tool="git_commit"))
        alerts.submit(approval("req_slow", tool="apply_patch"))
        assert not alerts.submit(ApprovalDecided("req_fast", "git_commit", "approved", "alice"))
        await outcomes.wait_for(1)
        assert outcomes.items[0][1].text == "Approval needed: apply_patch, expires in 30 minutes"
        # nor is it counted in a later batch ("2 approvals waiting" would be wrong)
        alerts.submit(approval("req_gone"))
        alerts.submit(ApprovalDecided("req_gone", "apply_patch", "denied", "alice"))
        alerts.submit(TaskChanged("task_cccccc3", "failed"))
        await outcomes.wait_for(2)
        assert outcomes.items[1][1].text == "Task cccccc failed"
    finally:
        worker.cancel()


async def test_run_speaks_what_the_engine_publishes(
    eng: Engine, tmp_path: Path, bin_dir: Path, no_coqui: None
) -> None:
    await eng.set_tool_enabled("filesystem_write", True)
    alerts = VoiceAlerts(eng.settings, min_interval=0.1, burst_window=0.01)
    outcomes = Outcomes()
    listener = asyncio.create_task(alerts.run(eng.bus, outcomes))
    await asyncio.sleep(0)  # one turn of the loop: the listener subscribes before we publish
    try:
        result = await eng.run("filesystem_write", {"path": "a.txt", "content": "x"})
        assert result.status == "pending_approval"
        await outcomes.wait_for(1)
        assert outcomes.items[0][1].text == (
            "Approval needed: filesystem_write, expires in 30 minutes"
        )
    finally:
        listener.cancel()


async def test_muted_voice_queues_nothing_and_says_nothing(tmp_path: Path) -> None:
    alerts = VoiceAlerts(voice_settings(tmp_path, DAENA_VOICE_MUTED="true"))
    assert alerts.muted
    assert not alerts.submit(approval("req_1"))
    outcome = await alerts.speak("Approval needed: apply_patch")
    assert (outcome.backend, outcome.wav_path, outcome.played) == ("muted", None, False)
    assert not (tmp_path / "state" / "voice").exists()
    assert alerts.status().backend == "muted"


def test_a_node_that_was_never_up_is_not_announced() -> None:
    """Start-up (unknown -> unreachable) is not news; ok -> unreachable is."""
    assert alert_for(NodeHealthChanged("windows", "unreachable")) is None
    assert alert_for(NodeHealthChanged("windows", "unreachable", previous="error")) is None
    assert alert_for(NodeHealthChanged("windows", "unreachable", previous="ok")) is not None
