"""``python -m tensorbind.worker --list`` reports what ``tensorbind serve model.py`` binds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tensorbind._proxy.listing import list_models

FIXTURES = Path(__file__).parent / "fixtures"
PACKAGE_DIR = Path(__file__).parent.parent


def test_lists_decorated_functions_with_names_and_serving_options():
    models = list_models(str(FIXTURES / "served.py"))
    assert [(m["function"], m["name"]) for m in models] == [("double", "doubler"), ("negate", "negate")]
    assert models[0]["instances"] == 2
    assert "framework" not in models[0]
    assert models[1]["declaration"]["maxBatchSize"] == 4


def test_cli_prints_only_json_on_stdout():
    out = subprocess.run(
        [sys.executable, "-m", "tensorbind.worker", "--list", str(FIXTURES / "served.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE_DIR,
    )
    assert "imported served.py" in out.stderr
    assert [m["name"] for m in json.loads(out.stdout)["models"]] == ["doubler", "negate"]


def test_duplicate_model_names_are_an_error(tmp_path: Path):
    path = tmp_path / "dup.py"
    path.write_text(
        textwrap.dedent(
            """
            import tensorbind

            @tensorbind.model(name="m")
            def a(x):
                return {"y": x}

            @tensorbind.model(name="m")
            def b(x):
                return {"y": x}
            """
        )
    )
    with pytest.raises(ValueError, match="more than one model named m"):
        list_models(str(path))


def test_a_file_without_models_lists_nothing():
    assert list_models(str(FIXTURES / "no_models.py")) == []


@pytest.mark.parametrize(
    "kwargs", [{"name": ""}, {"instances": 0}, {"framework": "jax"}, {"device": "cuda:0"}]
)
def test_bad_serving_options_raise(kwargs):
    import tensorbind

    with pytest.raises(ValueError):
        tensorbind.model(**kwargs)
