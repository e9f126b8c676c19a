"""The protobuf contract: generated code is current and the style rules hold."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
SOURCES = sorted((PROTOS / "labelmesh" / "v1").glob("*.proto"))
GENERATED = ROOT / "shared" / "labelmesh" / "v1"


def run_protoc(*args: str) -> None:
    include = str(Path(protoc.__file__).parent / "_proto")
    code = protoc.main(["protoc", f"-I{PROTOS}", f"-I{include}", *args, *map(str, SOURCES)])
    assert code == 0, f"protoc failed with {code}"


def test_generated_code_matches_the_protos(tmp_path: Path) -> None:
    """Fails when a .proto changed and `make protos` was not run."""
    run_protoc(f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}")
    fresh = tmp_path / "labelmesh" / "v1"
    names = sorted(p.name for p in fresh.iterdir())
    assert names == sorted(
        p.name for p in GENERATED.iterdir() if p.is_file() and p.suffix in {".py", ".pyi"}
    )
    _, mismatch, errors = filecmp.cmpfiles(fresh, GENERATED, names, shallow=False)
    assert (mismatch, errors) == ([], [])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[descriptor_pb2.FileDescriptorProto]:
    out = tmp_path_factory.mktemp("descriptors") / "set.pb"
    run_protoc(f"--descriptor_set_out={out}", "--include_source_info")
    return list(descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file)


def comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    return {
        tuple(loc.path): loc.leading_comments.strip()
        for loc in file.source_code_info.location
        if loc.leading_comments.strip()
    }


def test_every_message_field_and_enum_is_commented(
    files: list[descriptor_pb2.FileDescriptorProto],
) -> None:
    missing = []
    for file in files:
        documented = comments(file)
        for m_index, message in enumerate(file.message_type):
            if (4, m_index) not in documented:
                missing.append(f"{file.name}: message {message.name}")
            for f_index, field in enumerate(message.field):
                if (4, m_index, 2, f_index) not in documented:
                    missing.append(f"{file.name}: {message.name}.{field.name}")
        for s_index, service in enumerate(file.service):
            for r_index, rpc in enumerate(service.method):
                if (6, s_index, 2, r_index) not in documented:
                    missing.append(f"{file.name}: rpc {service.name}.{rpc.name}")
    assert missing == []


def test_style_rules(files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    for file in files:
        assert file.package == "labelmesh.v1", file.name
        enums = list(file.enum_type) + [e for m in file.message_type for e in m.enum_type]
        for enum in enums:
            assert enum.value[0].number == 0
            assert enum.value[0].name.endswith("_UNSPECIFIED"), enum.name
        for service in file.service:
            for rpc in service.method:
                assert rpc.input_type == f".labelmesh.v1.{rpc.name}Request", rpc.name
                assert rpc.output_type == f".labelmesh.v1.{rpc.name}Response", rpc.name


@pytest.mark.parametrize(
    "command", [["lint"], ["format", "--diff", "--exit-code"]], ids=["lint", "format"]
)
def test_buf_accepts_the_protos(command: list[str]) -> None:
    """buf's STANDARD lint rules and its formatting (installed by `make setup`)."""
    buf = ROOT / ".tools" / "node_modules" / ".bin" / "buf"
    result = subprocess.run(
        [str(buf), *command], cwd=PROTOS, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
