"""Wire models shared by the engine's node client and the node server (docs/windows_node.md).

Client and server import these classes from this one module so the two sides cannot drift.
It imports nothing but pydantic: the node server loads it on machines where the rest of the
engine is never started.

Routes: `GET /node/health` answers `NodeHealth`; `POST /node/run_tool` takes `RunToolRequest`
and answers the tool's result (`FileReadResult`, `FileWriteResult`, the listing or search
dict, or the command result dict for `safe_shell_exec`). Every error is an `ErrorBody`
with the HTTP status repeated in it; `error` is a stable code (see `ErrorCode`), `detail`
a sentence naming the field and rule.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION: Final = 1
TOKEN_HEADER: Final = "X-Windows-Node-Token"  # noqa: S105 (a header name, not a secret)
HEALTH_PATH: Final = "/node/health"
RUN_TOOL_PATH: Final = "/node/run_tool"

SAFE_SHELL_EXEC: Final = "safe_shell_exec"
FILE_READ_WORKSPACE: Final = "file_read_workspace"
FILE_WRITE_WORKSPACE: Final = "file_write_workspace"
FILE_LIST_WORKSPACE: Final = "file_list_workspace"
WORKSPACE_SEARCH: Final = "workspace_search"
NODE_TOOLS: Final[tuple[str, ...]] = (
    SAFE_SHELL_EXEC,
    FILE_READ_WORKSPACE,
    FILE_WRITE_WORKSPACE,
    FILE_LIST_WORKSPACE,
    WORKSPACE_SEARCH,
)

DEFAULT_READ_BYTES: Final = 1_000_000
MAX_READ_BYTES: Final = 10_000_000
MAX_TIMEOUT_SEC: Final = 300.0


class ErrorCode:
    """Stable values of `ErrorBody.error`; the client maps them to engine exceptions."""

    BAD_REQUEST: Final = "bad_request"
    UNKNOWN_TOOL: Final = "unknown_tool"
    UNAUTHORIZED: Final = "unauthorized"
    FORBIDDEN_HOST: Final = "forbidden_host"
    FORBIDDEN_ORIGIN: Final = "forbidden_origin"
    REFUSED: Final = "refused"
    OUTSIDE_WORKSPACE: Final = "outside_workspace"
    NOT_FOUND: Final = "not_found"
    UNKNOWN_ROUTE: Final = "unknown_route"
    METHOD_NOT_ALLOWED: Final = "method_not_allowed"
    TOOL_FAILED: Final = "tool_failed"
    TOO_LARGE: Final = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE: Final = "unsupported_media_type"
    INVALID_ARGS: Final = "invalid_args"
    TIMEOUT: Final = "timeout"
    INTERNAL: Final = "internal_error"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunToolRequest(_Strict):
    """Body of `POST /node/run_tool`."""

    tool_name: str = Field(min_length=1, max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)


class SafeShellExecArgs(_Strict):
    """`safe_shell_exec`: an allowlisted command, split into argv and run without a shell."""

    command: str | list[str] = Field(
        description="Command line (split with shlex) or argv list; no shell metacharacters."
    )
    timeout_sec: float = Field(
        30.0, gt=0, le=MAX_TIMEOUT_SEC, description="Kill the command after this many seconds."
    )


class FileReadArgs(_Strict):
    """`file_read_workspace`: a text file inside the node's workspace."""

    path: str = Field(description="Workspace-relative path (or absolute inside the workspace).")
    max_bytes: int = Field(
        DEFAULT_READ_BYTES, gt=0, le=MAX_READ_BYTES, description="Refuse files larger than this."
    )


class FileWriteArgs(_Strict):
    """`file_write_workspace`: write a text file inside the node's workspace, atomically."""

    path: str = Field(description="Workspace-relative path (or absolute inside the workspace).")
    content: str = Field(description="Text to write (UTF-8, no NUL bytes).")
    create_dirs: bool = Field(False, description="Create missing parent directories.")


MAX_LIST_ENTRIES: Final = 20_000
MAX_WALK_DEPTH: Final = 64
MAX_GLOB: Final = 500
MAX_PATTERN: Final = 1000
MAX_MATCHES: Final = 5000
MAX_SEARCH_FILE_BYTES: Final = 10_000_000


class FileListArgs(_Strict):
    """`file_list_workspace` (and the engine's `filesystem_list`): a directory's entries."""

    path: str = Field(".", min_length=1, description="Directory, relative to the workspace")
    recursive: bool = Field(False, description="List subdirectories too (up to max_depth)")
    glob: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_GLOB,
        description="Only entries matching this gitignore-style pattern, e.g. '*.py' or 'src/**'",
    )
    max_depth: int = Field(
        8, ge=1, le=MAX_WALK_DEPTH, description="Deepest level of a recursive list"
    )
    max_entries: int = Field(1000, ge=1, le=MAX_LIST_ENTRIES, description="Stop after this many")
    gitignore: bool = Field(True, description="Leave out what .gitignore files ignore")


class WorkspaceSearchArgs(_Strict):
    """`workspace_search` (engine and node): find text in the workspace's text files."""

    pattern: str = Field(min_length=1, max_length=MAX_PATTERN, description="Text to find")
    regex: bool = Field(False, description="Read pattern as an RE2 regular expression")
    case_sensitive: bool = Field(True, description="Match letter case exactly")
    path: str = Field(".", min_length=1, description="Directory to search, workspace-relative")
    glob: str | None = Field(
        None, min_length=1, max_length=MAX_GLOB, description="Only files matching, e.g. '*.py'"
    )
    context: int = Field(0, ge=0, le=10, description="Lines of context before and after")
    max_matches: int = Field(200, ge=1, le=MAX_MATCHES, description="Matching lines to show")
    max_file_bytes: int = Field(
        1_000_000, ge=1, le=MAX_SEARCH_FILE_BYTES, description="Skip files larger than this"
    )
    gitignore: bool = Field(True, description="Skip what .gitignore files ignore")


NODE_TOOL_ARGS: Final[dict[str, type[BaseModel]]] = {
    SAFE_SHELL_EXEC: SafeShellExecArgs,
    FILE_READ_WORKSPACE: FileReadArgs,
    FILE_WRITE_WORKSPACE: FileWriteArgs,
    FILE_LIST_WORKSPACE: FileListArgs,
    WORKSPACE_SEARCH: WorkspaceSearchArgs,
}


class FileReadResult(BaseModel):
    path: str
    content: str
    size: int


class FileWriteResult(BaseModel):
    path: str
    bytes_written: int
    created: bool


class NodeHealth(BaseModel):
    """Body of `GET /node/health`."""

    status: Literal["ok"] = "ok"
    version: str
    platform: str
    hostname: str
    workspace_root: str
    tools: list[str]
    protocol: int = PROTOCOL_VERSION


class ErrorBody(BaseModel):
    """Every error answer of the node. `result` carries partial output of a timed-out command."""

    error: str
    detail: str
    status: int
    result: dict[str, Any] | None = None
