"""The shipped defaults, editable here: the policy seed and the example playbooks.

Installed as the package `daena_config` (see pyproject.toml and setup.py), so a wheel
carries these very files; `engine/defaults.py` reads them with `importlib.resources`.
"""
