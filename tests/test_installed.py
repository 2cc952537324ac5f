"""The install-time hooks: commands and data that installed plugins add, outside any run."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import click
import pytest
import torch
from click.testing import CliRunner

import gancore.installed
from gancore import hookimpl
from gancore.cli import main
from gancore.data import Dataset, DataSpec, load_data
from gancore.errors import DataError, PluginError
from gancore.installed import add_commands, installed_data
from gancore.plugins import PluginInfo, Registry
from gancore.testing import ReferenceFamily, assert_clean_error


def library(name: str, **hooks) -> types.ModuleType:
    """A module plugin holding ``hooks`` as its module-level hook implementations."""
    module = types.ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


def core_group() -> click.Group:
    group = click.Group("gan")

    @group.command()
    def train():
        click.echo("core train")

    return group


def test_plugins_add_commands_one_failing_plugin_costs_only_its_own():
    def hello_commands(cli):
        @cli.command()
        def hello():
            click.echo("hello from a plugin")

    def broken_commands(cli):
        raise RuntimeError("no commands today")

    def greedy_commands(cli):
        @cli.command("train")
        def shadow():
            click.echo("not gan's train")

    # A plugin that failed to import adds nothing and is no problem here (`gan plugins` shows it).
    registry = Registry([PluginInfo("unloadable", "gancore-unloadable", "1.0", "x", error="ImportError: x")])
    registry.add("hello", library("hello", register_commands=hello_commands))
    registry.add("broken", library("broken", register_commands=broken_commands))
    registry.add("greedy", library("greedy", register_commands=greedy_commands))
    group = core_group()
    problems = add_commands(group, registry)
    assert sorted(group.commands) == ["hello", "train"]
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"
    assert CliRunner().invoke(group, ["train"]).output == "core train\n"
    assert any("'broken'" in p and "register_commands" in p and "no commands today" in p for p in problems), problems
    assert any("replace the command 'train'" in p for p in problems), problems
    assert len(problems) == 2


def test_plugins_add_named_data_and_folder_layouts(tmp_path, monkeypatch):
    toy = Dataset(DataSpec("toy", (2,)), torch.zeros(3, 2))
    read = []

    def register_data(register, register_layout):
        register("toy", lambda: toy)
        register_layout(("paired",), lambda folder, size, layout, mode: read.append((folder, layout)) or toy,
                        lambda folder: (folder / "A").is_dir())

    def taking_mnist(register):
        register("mnist", lambda: toy)

    registry = Registry()
    registry.add("toys", library("toys", register_data=register_data))
    registry.add("thief", library("thief", register_data=taking_mnist))
    monkeypatch.setattr(gancore.installed, "libraries", lambda: registry)
    readers = installed_data  # as a run hands them to the data (data/ imports no plugin machinery)
    assert load_data("toy", readers=readers) is toy
    assert load_data("mnist", readers=readers).spec.name == "mnist"  # the core's own name is not the plugin's to take
    (tmp_path / "A").mkdir()
    # claimed under --layout auto
    assert load_data(str(tmp_path), readers=readers) is toy and read == [(tmp_path, "auto")]
    assert load_data(str(tmp_path), layout="paired", readers=readers) is toy and read[-1] == (tmp_path, "paired")
    with pytest.raises(DataError, match=r"--layout unpaired: no installed plugin reads.*auto, classes, paired"):
        load_data(str(tmp_path), layout="unpaired", readers=readers)
    with pytest.raises(DataError, match=r"unknown data 'toys': use one of ring, digits, mnist, toy \(embedded\)"
                                        r".*'thief'.*gancore's own"):
        load_data("toys", readers=readers)
    data = installed_data(registry, reserved=("mnist",))
    assert sorted(data.named) == ["toy"] and data.layouts() == ["paired"] and len(data.problems) == 1


def test_two_plugins_cannot_register_one_name():
    one = library("one", register_data=lambda register: register("toy", lambda: None))
    two = library("two", register_data=lambda register: register("toy", lambda: None))
    registry = Registry()
    registry.add("one", one)
    registry.add("two", two)
    data = installed_data(registry)
    assert data.named["toy"].plugin == "one"
    assert data.problems == ["plugin 'two' ((in-process) ) failed in register_data: PluginError: data name 'toy' "
                             "is already registered by plugin 'one'."]


def test_translation_data_without_the_plugin_installed_is_a_clear_error(monkeypatch):
    # GANCORE_LOAD_PLUGINS loads gancore-gan only: installed or not, gancore-translation is not seen.
    monkeypatch.setenv("GANCORE_LOAD_PLUGINS", "gancore-gan")
    result = CliRunner().invoke(main, ["train", "--plugin", "gancore-gan", "--data", "mnist-edges", "--steps", "1"])
    assert_clean_error(result, "unknown data 'mnist-edges': use one of ring, digits, mnist (embedded)")


def test_a_library_is_not_activated_in_a_run():
    registry = Registry()
    registry.add("lib", library("lib", register_data=lambda register: None))
    registry.add("reference", ReferenceFamily)
    assert registry.get("lib").kind == "library"
    with pytest.raises(PluginError, match="'lib' is a library.*drop --plugin lib"):
        registry.activate(["reference", "lib"])


def test_gan_help_lists_plugin_commands_without_importing_torch():
    code = ("import sys\nfrom gancore.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch imported' if 'torch' in sys.modules else 'no torch')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert "no torch" in out.stdout and "  translate " in out.stdout  # gancore-translation is installed


def test_a_command_of_a_plugin_that_failed_to_load_names_the_plugin(monkeypatch):
    from gancore.cli import GanGroup

    broken = Registry([PluginInfo("gancore-broken", "gancore-broken", "1.0", "gancore_broken",
                                  error="ImportError: No module named 'nowhere'")])
    monkeypatch.setattr(gancore.installed, "libraries", lambda: broken)
    result = CliRunner().invoke(GanGroup("gan"), ["translate"])
    assert result.exit_code == 1
    assert "No such command 'translate'" in result.output and "Plugin 'gancore-broken' failed to load (ImportError: "\
        "No module named 'nowhere')" in result.output
