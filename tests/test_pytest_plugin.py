"""gancore's pytest plugin (:mod:`gancore.pytest_plugin`): the fixtures every plugin's tests share
instead of copying a ``conftest.py``."""

from __future__ import annotations

import torch

pytest_plugins = "pytester"


def test_gancores_tests_run_on_the_threads_its_ini_option_names():
    # pyproject.toml: gancore_torch_threads = "1", for gancore's tests and every plugin's.
    assert torch.get_num_threads() == 1


def test_the_ini_option_sets_torch_threads_in_each_test_of_another_project(pytester):
    pytester.makeini("[pytest]\ngancore_torch_threads = 3\n")
    pytester.makepyfile("import torch\n\n\ndef test_changes_it(gan):\n    assert torch.get_num_threads() == 3\n"
                        "    torch.set_num_threads(5)\n\n\ndef test_gets_it_back():\n"
                        "    assert torch.get_num_threads() == 3\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_bad_thread_count_stops_the_session_with_one_line(pytester):
    pytester.makeini("[pytest]\ngancore_torch_threads = many\n")
    pytester.makepyfile("def test_it():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 4  # pytest's usage error
    result.stderr.fnmatch_lines(["*gancore_torch_threads must be a whole number >= 1, got 'many'*"])
