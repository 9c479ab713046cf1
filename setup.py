"""Packages for setuptools (everything else is in pyproject.toml).

Only here because pyproject.toml cannot both discover packages and add one under another
name: the top-level `config/` directory (the editable defaults operators see) is installed
as the package `daena_config`, so an editable install reads `config/` itself and a wheel
ships the very same files (engine/defaults.py reads them with importlib.resources).
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["engine*", "daena_tui*", "node_server*", "daena_http*"]),
        "daena_config",
    ],
    package_dir={"daena_config": "config"},
)
