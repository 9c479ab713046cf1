<#
.SYNOPSIS
    Start the Daena node server on this Windows machine.

.DESCRIPTION
    Finds Python (.venv\Scripts\python.exe next to the repository, else the `py -3`
    launcher, else `python` on PATH) and runs `python -m node_server`, passing every
    argument through. The node never uses cmd.exe or PowerShell to run tools: commands are
    started directly (argv, no shell).

    Set WINDOWS_NODE_TOKEN first (the engine must use the same value), e.g.
        $env:WINDOWS_NODE_TOKEN = "<long random string>"

.EXAMPLE
    .\scripts\start_windows_node.ps1 --workspace C:\work\repo

.EXAMPLE
    .\scripts\start_windows_node.ps1 --host 0.0.0.0 --allow-host 192.168.1.20 --workspace C:\work\repo
#>
$ErrorActionPreference = 'Stop'

$RepoRoot = Split-Path -Parent $PSScriptRoot
$VenvPython = Join-Path $RepoRoot '.venv\Scripts\python.exe'

if (Test-Path -LiteralPath $VenvPython -PathType Leaf) {
    $Python = $VenvPython
    $PythonArgs = @()
}
elseif (Get-Command 'py' -CommandType Application -ErrorAction SilentlyContinue) {
    $Python = 'py'
    $PythonArgs = @('-3')
}
elseif (Get-Command 'python' -CommandType Application -ErrorAction SilentlyContinue) {
    $Python = 'python'
    $PythonArgs = @()
}
else {
    [Console]::Error.WriteLine("daena-node: no Python found: create $RepoRoot\.venv or install Python 3.11+")
    exit 2
}

# Importable from a checkout even when the package is not installed.
if ($env:PYTHONPATH) {
    $env:PYTHONPATH = "$RepoRoot;$env:PYTHONPATH"
}
else {
    $env:PYTHONPATH = $RepoRoot
}

& $Python @PythonArgs -m node_server @args
exit $LASTEXITCODE
