@echo off
rem Start the Daena node server on this Windows machine.
rem Arguments pass through to "python -m node_server", e.g.
rem   scripts\start_windows_node.bat --workspace C:\work\repo
rem Python: .venv\Scripts\python.exe next to the repository, else "py -3", else python.
rem Set WINDOWS_NODE_TOKEN first (the engine must use the same value).
rem The node never runs tools through cmd.exe: commands are started directly (argv).
setlocal
for %%I in ("%~dp0..") do set "REPO_ROOT=%%~fI"

rem Importable from a checkout even when the package is not installed.
set "DAENA_PYTHONPATH=%REPO_ROOT%"
if defined PYTHONPATH set "DAENA_PYTHONPATH=%REPO_ROOT%;%PYTHONPATH%"
set "PYTHONPATH=%DAENA_PYTHONPATH%"

if exist "%REPO_ROOT%\.venv\Scripts\python.exe" goto use_venv
where py >nul 2>nul
if not errorlevel 1 goto use_launcher
where python >nul 2>nul
if not errorlevel 1 goto use_python
echo daena-node: no Python found: create %REPO_ROOT%\.venv or install Python 3.11+ 1>&2
exit /b 2

:use_venv
"%REPO_ROOT%\.venv\Scripts\python.exe" -m node_server %*
exit /b %ERRORLEVEL%

:use_launcher
py -3 -m node_server %*
exit /b %ERRORLEVEL%

:use_python
python -m node_server %*
exit /b %ERRORLEVEL%
