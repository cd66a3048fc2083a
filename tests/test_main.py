"""``python -m chainrule`` is the ``chainrule`` command: same output, same exit status."""

import os
import shutil
import subprocess
import sys

import pytest

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
GRAPH = ["graph", "x*x + y", "--set", "x=3", "y=1", "--no-grads"]


def run(*command):
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=60,
                          check=False)


@pytest.mark.parametrize("args", [GRAPH, ["--version"], ["frobnicate"], []])
def test_python_m_chainrule_behaves_as_the_cli_module(args):
    as_package = run(sys.executable, "-m", "chainrule", *args)
    as_cli = run(sys.executable, "-m", "chainrule.app.cli", *args)
    assert (as_package.returncode, as_package.stdout, as_package.stderr) == (
        as_cli.returncode, as_cli.stdout, as_cli.stderr)


def test_python_m_chainrule_names_itself_chainrule_and_fails_with_status_two():
    done = run(sys.executable, "-m", "chainrule", "frobnicate")
    assert done.returncode == 2
    assert done.stderr.startswith("chainrule: error: argument COMMAND: invalid choice")


def test_python_m_chainrule_prints_what_the_installed_script_prints():
    script = shutil.which("chainrule")
    if script is None:
        pytest.skip("the chainrule script is not on PATH (package not installed)")
    as_package = run(sys.executable, "-m", "chainrule", *GRAPH)
    assert as_package.returncode == 0, as_package.stderr
    assert "x*x + y = 10" in as_package.stdout
    assert as_package.stdout == run(script, *GRAPH).stdout


def test_importing_the_main_module_runs_nothing():
    done = run(sys.executable, "-c", "import chainrule.__main__")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
