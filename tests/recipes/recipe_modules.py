"""The recipes (scripts under recipes/, not a package) loaded as modules for the tests."""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = os.path.join(ROOT, "recipes")


def load_recipe(name, prefix="recipes"):
    """A fresh module of ``recipes/<name>.py``, named ``<prefix>_<name>`` (each test file
    its own copy, so that one's monkeypatching stays its own)."""
    if RECIPES not in sys.path:
        sys.path.insert(0, RECIPES)  # the recipes import `_common` (and demo `translate`)
    spec = importlib.util.spec_from_file_location(
        f"{prefix}_{name}", os.path.join(RECIPES, f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
