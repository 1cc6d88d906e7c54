"""Debian packages the matrix drives (kcat, Burrow), installed on first use
where the machine allows it (root, or password-less sudo)."""
from __future__ import annotations

import os
import shutil
import subprocess


def apt_install(package: str, binary: str) -> None:
    if shutil.which(binary):
        return
    as_root = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        result = subprocess.run([*as_root, *command], capture_output=True, text=True, env=env, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"{binary} is not installed and `apt-get install {package}` failed:\n"
                               f"{result.stderr[-1500:]}")
