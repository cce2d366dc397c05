"""Health, server metadata, model metadata and model config through tritonclient.http."""

from __future__ import annotations

import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

IDENTITY_DATATYPES = [
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
    "BF16",
]


def config_type(datatype: str) -> str:
    return "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}"


def test_server_is_live(client):
    assert client.is_server_live() is True


def test_server_is_ready(client):
    assert client.is_server_ready() is True


def test_server_metadata_names_tensorbind_with_version(client):
    md = client.get_server_metadata()
    assert md["name"] == "tensorbind"
    assert isinstance(md["version"], str) and md["version"]


def test_server_metadata_lists_required_extensions(client):
    extensions = set(client.get_server_metadata()["extensions"])
    assert {"binary_tensor_data", "statistics", "model_configuration"} <= extensions


def test_model_ready_for_served_model(client):
    assert client.is_model_ready("simple") is True


def test_model_ready_is_false_for_unknown_model(client):
    assert client.is_model_ready("no_such_model") is False


def test_model_ready_with_explicit_version(client):
    assert client.is_model_ready("simple", model_version="1") is True


def test_model_metadata_of_simple_has_leading_batch_dim(client):
    md = client.get_model_metadata("simple")
    assert md["name"] == "simple"
    assert "1" in md["versions"]
    assert isinstance(md["platform"], str)
    inputs = {t["name"]: t for t in md["inputs"]}
    outputs = {t["name"]: t for t in md["outputs"]}
    assert set(inputs) == {"INPUT0", "INPUT1"}
    assert set(outputs) == {"OUTPUT0", "OUTPUT1"}
    for t in [*inputs.values(), *outputs.values()]:
        assert t["datatype"] == "INT32"
        assert t["shape"] == [-1, 16]


def test_model_metadata_for_unknown_model_raises_not_found(client):
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("no_such_model")
    assert e.value.status() == "404"
    assert "unknown model" in e.value.message()


@pytest.mark.parametrize("datatype", IDENTITY_DATATYPES)
def test_model_metadata_of_identity_models(client, datatype):
    md = client.get_model_metadata(f"identity_{datatype.lower()}")
    assert md["inputs"] == [{"name": "INPUT0", "datatype": datatype, "shape": [-1, -1]}]
    assert md["outputs"] == [{"name": "OUTPUT0", "datatype": datatype, "shape": [-1, -1]}]


def test_model_config_of_simple(client):
    cfg = client.get_model_config("simple")
    assert cfg["name"] == "simple"
    assert cfg["max_batch_size"] == 8
    inputs = {t["name"]: t for t in cfg["input"]}
    outputs = {t["name"]: t for t in cfg["output"]}
    assert set(inputs) == {"INPUT0", "INPUT1"}
    assert set(outputs) == {"OUTPUT0", "OUTPUT1"}
    for t in [*inputs.values(), *outputs.values()]:
        assert t["data_type"] == "TYPE_INT32"


def test_model_config_dims_are_json_numbers_like_triton(client):
    # Triton's /config fixes protobuf's int64-as-string JSON: "dims": [16], not ["16"].
    cfg = client.get_model_config("simple")
    for t in [*cfg["input"], *cfg["output"]]:
        assert t["dims"] == [16], t


@pytest.mark.parametrize("datatype", ["BYTES", "BF16", "BOOL"])
def test_model_config_data_type_enum_names(client, datatype):
    cfg = client.get_model_config(f"identity_{datatype.lower()}")
    assert cfg["input"][0]["data_type"] == config_type(datatype)
    assert cfg["output"][0]["data_type"] == config_type(datatype)
    assert cfg["max_batch_size"] == 8


def test_model_config_for_unknown_model_raises_not_found(client):
    with pytest.raises(InferenceServerException) as e:
        client.get_model_config("no_such_model")
    assert e.value.status() == "404"


def test_query_params_are_ignored(client):
    assert client.is_server_ready(query_params={"test_1": 1, "test_2": "x"}) is True
    md = client.get_model_metadata("simple", query_params={"a": "b"})
    assert md["name"] == "simple"


def test_new_client_per_call_works(url):
    # a fresh connection each time: no reliance on keep-alive state
    for _ in range(3):
        c = httpclient.InferenceServerClient(url=url)
        assert c.is_server_live()
        c.close()
