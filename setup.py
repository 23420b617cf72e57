"""Installs the repository's layer folders under one import namespace, `grove_explorer`.

The folders stay where the project keeps them (`app/`, `client/`, `server/`, `protos/`);
setuptools' `package_dir` maps each onto `grove_explorer.<folder>`, so an installed Grove
adds one distinctive top-level name to site-packages instead of four generic ones. The
package list is read from the folders on disk, so a new subpackage needs no entry here.
Everything else about the distribution is declared in pyproject.toml.
"""

from setuptools import find_packages, setup

NAMESPACE = "grove_explorer"
LAYERS = ("protos", "client", "server", "app")

setup(
    packages=[
        f"{NAMESPACE}.{package}"
        for package in find_packages(include=[*LAYERS, *(f"{layer}.*" for layer in LAYERS)])
    ],
    package_dir={f"{NAMESPACE}.{layer}": layer for layer in LAYERS},
)
