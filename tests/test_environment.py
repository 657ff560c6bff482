"""pyproject.toml and environment.yml list the same dependencies."""
import re
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ ]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = {r.replace(" ", "") for r in project["dependencies"]}
    env_lines = (REPO / "environment.yml").read_text().splitlines()
    start = next(i for i, ln in enumerate(env_lines) if ln.strip() == "- pip:")
    pip_items = [ln.strip()[2:].strip() for ln in env_lines[start + 1:] if ln.strip().startswith("- ")]
    env = {i.replace(" ", "") for i in pip_items
           if not i.startswith(("python", "pip", "-e")) and not i.endswith(":")}
    assert env == deps, f"only in pyproject: {deps - env}; only in environment.yml: {env - deps}"


def test_no_upper_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert "<" not in req and "==" not in req, req


def test_console_script_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["ctkd-lab"] == "ctkd_lab.cli:main"
