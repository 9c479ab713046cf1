#!/usr/bin/env bash
# End-to-end check of the real console in tmux (README, "The console"), driven with send-keys:
# open Tools, run git_status from its form, make a risky request from a second process
# (the CLI, as an agent would), see it arrive in the inbox without a key press, approve it,
# and find it in Logs; then a patch read in the detail and approved (applied once), the
# timeline of that run, an extension, and a bulk decision of two marked requests (each runs
# once, with its own arguments). Every wait is bounded; on failure the captured screen is printed
# and the script exits non-zero.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/daena-e2e.XXXXXX")"
SOCKET="daena-e2e-$$"
SESSION="console"
TIMEOUT="${E2E_TIMEOUT:-45}"  # bounds a failing wait only; a passing one goes on at once
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

tm() { tmux -L "$SOCKET" "$@"; }
cleanup() {
    tm kill-server >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

screen() { tm capture-pane -p -t "$SESSION" 2>/dev/null || true; }
fail() {
    echo "tui_e2e: FAILED: $*" >&2
    echo "----- captured screen -----" >&2
    screen >&2
    echo "---------------------------" >&2
    exit 1
}
# wait_for TEXT [WHAT]: poll the screen until TEXT (fixed string) appears.
wait_for() {
    local text="$1" what="${2:-$1}" deadline=$((SECONDS + TIMEOUT))
    until screen | grep -qF -- "$text"; do
        ((SECONDS < deadline)) || fail "timed out after ${TIMEOUT}s waiting for: $what"
        sleep 0.2
    done
    echo "tui_e2e: ok: $what"
}
keys() { tm send-keys -t "$SESSION" "$@"; }
daena() { (cd "$TMP" && "$PYTHON" -m daena_tui --db "$TMP/db" --workspace "$TMP/ws" "$@"); }

# A real git repository as the workspace.
mkdir -p "$TMP/ws"
git -C "$TMP/ws" init -q
echo "# e2e" >"$TMP/ws/README.md"
git -C "$TMP/ws" add README.md
git -C "$TMP/ws" -c user.name=e2e -c user.email=e2e@example.com commit -q -m init
echo "scratch" >"$TMP/ws/changed.txt"

tm new-session -d -s "$SESSION" -x 120 -y 36 \
    "cd '$TMP' && DAENA_OPERATOR=e2e-operator '$PYTHON' -m daena_tui --db '$TMP/db' --workspace '$TMP/ws'; echo CONSOLE-EXITED \$?; sleep 30"
# Some tmux builds size a detached session by their default-size (80x24) whatever -x/-y say.
tm resize-window -t "$SESSION" -x 120 -y 36 2>/dev/null || true

wait_for "1 Tools" "console started"
wait_for "git_status" "tool catalog"

# Tools → Enter on git_status (the first row) → Run form → ctrl+r.
keys 1
keys Enter
wait_for "git_status · risk low" "run form for git_status"
keys C-r
wait_for "ok  git_status" "git_status result"
wait_for "changed.txt" "git_status output shows the untracked file"

# A second process asks for a risky write, as an agent would.
daena tools enable filesystem_write >/dev/null
set +e
daena run filesystem_write --arg path=e2e.txt --arg content=hello-e2e --requester agent \
    --reason "e2e write" >/dev/null
code=$?
set -e
[[ $code == 3 ]] || fail "the CLI run should wait for approval (exit 3), got $code"

# It shows up without any key press (header count), then in the inbox.
wait_for "⚑ 1 pending" "pending request in the header"
keys 3
wait_for "e2e write" "request in the inbox"
wait_for "hello-e2e" "exact arguments in the detail pane"
keys a
wait_for "Approve request" "decision modal"
wait_for "Enter now: cancel" "focus starts on Cancel"
keys Left # the approve modal starts on Cancel; Left moves to Approve
wait_for "Enter now: APPROVE" "focus on Approve"
keys Enter
wait_for "ran once: ok" "approved and run"
[[ "$(cat "$TMP/ws/e2e.txt" 2>/dev/null)" == "hello-e2e" ]] || fail "e2e.txt was not written"

# Logs show the approval and the run.
keys 5
wait_for "approval_ap" "approval in the audit log"  # cut with an ellipsis in narrow columns
screen | grep -E "filesystem_wri.*ok" >/dev/null || fail "the approved run is not in Logs as ok"
echo "tui_e2e: ok: run in Logs"

# The core scenario: a second process asks for a patch; the operator reads the diff in the
# detail without moving the focus off the list, approves, and the file changes once.
printf '%s\n' '--- a/README.md' '+++ b/README.md' '@@ -1 +1,2 @@' '-# e2e' '+# e2e patched' \
    '+second line' >"$TMP/change.patch"
daena tools enable apply_patch >/dev/null
set +e
daena run apply_patch --arg "patch=@$TMP/change.patch" --requester agent --reason "e2e patch" \
    >/dev/null
code=$?
set -e
[[ $code == 3 ]] || fail "the patch should wait for approval (exit 3), got $code"
keys 3
wait_for "e2e patch" "patch request in the inbox"
wait_for "+# e2e patched" "the diff in the detail, the focus still on the list"
keys a
wait_for "Enter now: cancel" "approve dialog on Cancel"
keys Left
wait_for "Enter now: APPROVE" "focus on Approve"
keys Enter
wait_for "apply_patch ran once: ok" "the patch approved and applied"
[[ "$(cat "$TMP/ws/README.md")" == $'# e2e patched\nsecond line' ]] || fail "README.md not patched"
runs=$("$PYTHON" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(
"SELECT count(*) FROM audit WHERE tool = ? AND action = ?", ("apply_patch", "run_start")
).fetchone()[0])' "$TMP/db")
[[ $runs == 1 ]] || fail "the patch should have run once, it ran $runs times"
echo "tui_e2e: ok: the patch ran once"

# The timeline of that run, from its newest record in Logs.
keys 5
wait_for "apply_patch" "the patch run in Logs"
for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do keys Up; done
keys t
wait_for "Timeline of trace" "the timeline"
wait_for "apply_patch · from" "the timeline is the patch's"
wait_for "the run ended" "request, decision, start, outcome"
screen | grep -F "decision" | grep -qF "e2e-operator" || fail "the decision names its operator"
echo "tui_e2e: ok: the decision names who"
keys Escape

# An extension: + gives the selected request 10 more minutes (audited).
set +e
daena run filesystem_write --arg path=late.txt --arg content=late --requester agent \
    --reason "extend me" >/dev/null
set -e
keys 3
wait_for "extend me" "a request to extend"
keys +
wait_for "Extended" "the extension"
ext=$("$PYTHON" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(
"SELECT count(*) FROM audit WHERE action = ?", ("approval_extended",)).fetchone()[0])' "$TMP/db")
[[ $ext == 1 ]] || fail "one approval_extended record expected, found $ext"
echo "tui_e2e: ok: extension audited"

# A bulk decision: two requests marked (space), reviewed in one list with each one's exact
# arguments (b), approved in one action; each runs once with its own arguments, no grant.
set +e
for name in a b; do
    daena run filesystem_write --arg "path=bulk-$name.txt" --arg "content=bulk-$name-content" \
        --requester agent --reason "bulk $name" >/dev/null
done
set -e
wait_for "bulk a" "the first bulk request in the inbox"
wait_for "bulk b" "the second bulk request in the inbox"
for _ in 1 2 3 4; do keys Up; done # soonest expiry first: bulk a, bulk b, then "extend me"
wait_for "· req_" "a request selected"
keys Space
wait_for "● filesystem_write" "the first mark"
keys Down
keys Space
marks() { screen | grep -cF "● filesystem_write" || true; }
deadline=$((SECONDS + TIMEOUT))
until [[ $(marks) == 2 ]]; do
    ((SECONDS < deadline)) || fail "two rows marked expected, $(marks) shown"
    sleep 0.2
done
echo "tui_e2e: ok: two requests marked"
keys b
wait_for "Review 2 marked requests" "the bulk review"
wait_for '"path": "bulk-a.txt"' "the first request's exact arguments in the review"
wait_for '"path": "bulk-b.txt"' "the second request's exact arguments in the review"
wait_for "Enter now: cancel" "the review starts on Cancel"
keys Left Left # Cancel → Deny all → Approve all
wait_for "Enter now: APPROVE ALL" "focus on Approve all"
keys Enter
wait_for "2 approved" "both approved in one action"
for name in a b; do
    [[ "$(cat "$TMP/ws/bulk-$name.txt" 2>/dev/null)" == "bulk-$name-content" ]] ||
        fail "bulk-$name.txt does not hold its own arguments"
done
bulk=$("$PYTHON" -c 'import sqlite3,sys; print(" ".join(str(n) for (n,) in sqlite3.connect(
sys.argv[1]).execute("SELECT (SELECT count(*) FROM audit a WHERE a.approval_id = r.id AND "
"a.action = ?) FROM approval_requests r WHERE r.reason LIKE ? ORDER BY r.reason",
("run_start", "bulk %")).fetchall()))' "$TMP/db")
[[ $bulk == "1 1" ]] || fail "each bulk request should have run once, run_start counts: $bulk"
grants=$("$PYTHON" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(
"SELECT count(*) FROM grants").fetchone()[0])' "$TMP/db")
[[ $grants == 0 ]] || fail "a bulk approval must mint no grant, found $grants"
echo "tui_e2e: ok: each bulk request ran once with its own arguments, no grant"

keys C-q
wait_for "CONSOLE-EXITED 0" "console quit cleanly"
echo "tui_e2e: PASSED"
