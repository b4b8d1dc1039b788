"""Real code from real generators: Python imported and used in a fresh interpreter, and the
files every native language is expected to write. A language whose generator is not installed
is skipped on a laptop and fails under CI=true, where ./scripts/test installs them all."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from spoke.codegen import LanguageRegistry, LanguageStatus, build_zip, generate
from spoke.codegen.process import default_search_path
from spoke.codegen.runner import go_import_mappings, sets_go_package
from spoke.plugins import create_plugin_registry

ROOT = Path(__file__).resolve().parents[2]
# ./scripts/test installs protoc-gen-es here; looking there too lets a bare pytest use it.
NODE_TOOLS = ROOT / ".tools" / "node_modules" / ".bin"

MONEY = """\
syntax = "proto3";
package common.v1;
// A sum of money.
message Money {
  string currency = 1;
  int64 units = 2;
}
"""
PAYMENT = """\
syntax = "proto3";
package payments.v1;
import "common/v1/money.proto";
import "google/protobuf/timestamp.proto";
message Payment {
  string id = 1;
  common.v1.Money amount = 2;
  google.protobuf.Timestamp created_at = 3;
}
message GetPaymentRequest { string id = 1; }
service Payments {
  rpc GetPayment(GetPaymentRequest) returns (Payment);
}
"""
FILES = {"common/v1/money.proto": MONEY, "payments/v1/payment.proto": PAYMENT}
OWN = ["payments/v1/payment.proto"]

ROUND_TRIP = """\
from google.protobuf import timestamp_pb2
from common.v1 import money_pb2
from payments.v1 import payment_pb2
payment = payment_pb2.Payment(
    id="p-1",
    amount=money_pb2.Money(currency="EUR", units=1250),
    created_at=timestamp_pb2.Timestamp(seconds=1700000000, nanos=5),
)
again = payment_pb2.Payment.FromString(payment.SerializeToString())
assert again == payment, again
assert again.amount.currency == "EUR" and again.amount.units == 1250
assert again.created_at.ToSeconds() == 1700000000
assert type(again.created_at) is timestamp_pb2.Timestamp
print("round trip ok", payment_pb2.__file__)
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_enabled(status: LanguageStatus) -> None:
    """Skip a test of a language whose generator is missing; under CI that is a failure."""
    if not status.enabled:
        message = f"{status.language.id}: {status.reason} (./scripts/test installs it)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    search_path = os.pathsep.join([default_search_path(), str(NODE_TOOLS)])
    return LanguageRegistry.load(create_plugin_registry(), search_path=search_path)


def unzip(data: bytes, target: Path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(target)
        return archive.namelist()


def run_python(code: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter whose only extra import path is ``paths``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=paths[0],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# Python -----------------------------------------------------------------------------------------


def test_python_zip_imports_in_a_fresh_interpreter_and_round_trips(
    registry: LanguageRegistry, tmp_path: Path
) -> None:
    status = registry.get("python")
    code = generate(status, files=FILES, targets=sorted(FILES), grpc=False, options=[], timeout=60)
    assert list(code.files) == ["common/v1/money_pb2.py", "payments/v1/payment_pb2.py"]
    assert set(code.generator_versions) == {"protoc", "grpcio-tools"}
    names = unzip(build_zip(code.files, readme="# payments\n"), tmp_path)
    assert not [n for n in names if n.endswith("__init__.py")]  # PEP 420 namespace packages
    result = run_python(ROUND_TRIP, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "round trip ok" in result.stdout
    assert str(tmp_path) in result.stdout  # the archive's module, not one from elsewhere


def test_two_python_zips_merge_into_one_package_tree(
    registry: LanguageRegistry, tmp_path: Path
) -> None:
    """The module's zip without its dependency's code, and the dependency's own zip, unzipped
    apart: namespace packages let ``common`` and ``payments`` (and protobuf's ``google``) come
    from different directories."""
    status = registry.get("python")
    own = generate(status, files=FILES, targets=OWN, grpc=False, options=[], timeout=60)
    assert list(own.files) == ["payments/v1/payment_pb2.py"]
    dependency = generate(
        status, files={"common/v1/money.proto": MONEY}, targets=["common/v1/money.proto"],
        grpc=False, options=[], timeout=60,
    )  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    unzip(build_zip(own.files), tmp_path / "a")
    unzip(build_zip(dependency.files), tmp_path / "b")
    result = run_python(ROUND_TRIP, tmp_path / "a", tmp_path / "b")
    assert result.returncode == 0, result.stderr


def test_grpc_python_adds_stubs_that_import(registry: LanguageRegistry, tmp_path: Path) -> None:
    for language_id, grpc in (("grpc-python", False), ("python", True)):
        status = registry.get(language_id)
        code = generate(
            status, files=FILES, targets=sorted(FILES), grpc=grpc, options=[], timeout=60
        )
        assert "payments/v1/payment_pb2_grpc.py" in code.files
        target = tmp_path / language_id
        unzip(build_zip(code.files), target)
        result = run_python(
            "from payments.v1 import payment_pb2_grpc as g\nprint(g.PaymentsStub.__name__)", target
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "PaymentsStub"


def test_pyi_stubs(registry: LanguageRegistry) -> None:
    code = generate(
        registry.get("pyi"), files=FILES, targets=OWN, grpc=False, options=[], timeout=60
    )
    assert list(code.files) == ["payments/v1/payment_pb2.pyi"]
    assert b"class Payment(_message.Message)" in code.files["payments/v1/payment_pb2.pyi"]


# Native languages -------------------------------------------------------------------------------

EXPECTED = {
    "cpp": {"payments/v1/payment.pb.h", "payments/v1/payment.pb.cc"},
    "java": {"payments/v1/PaymentOuterClass.java"},
    "kotlin": {
        "payments/v1/PaymentOuterClass.java",
        "payments/v1/PaymentKt.kt",
        "payments/v1/GetPaymentRequestKt.kt",
        "payments/v1/PaymentOuterClassKt.proto.kt",
    },
    "csharp": {"Payments/V1/Payment.cs"},
    "objc": {"payments/v1/Payment.pbobjc.h", "payments/v1/Payment.pbobjc.m"},
    "php": {
        "Payments/V1/Payment.php",
        "Payments/V1/GetPaymentRequest.php",
        "GPBMetadata/Payments/V1/Payment.php",
    },
    "ruby": {"payments/v1/payment_pb.rb"},
    "go": {"payments/v1/payment.pb.go"},
    "go-grpc": {"payments/v1/payment.pb.go", "payments/v1/payment_grpc.pb.go"},
}


@pytest.mark.parametrize("language_id", sorted(EXPECTED))
def test_native_language_writes_the_expected_files(
    registry: LanguageRegistry, language_id: str
) -> None:
    status = registry.get(language_id)
    require_enabled(status)
    code = generate(status, files=FILES, targets=OWN, grpc=False, options=[], timeout=60)
    assert set(code.files) == EXPECTED[language_id]
    assert all(name.endswith(status.language.file_extensions) for name in code.files)
    assert all(code.files.values())
    assert status.generator_version is not None
    assert code.generator_versions[status.language.generators[0].version_key] == (
        status.generator_version
    )
    # The dependency's type is used, its code is not generated (it was not a target).
    assert any(b"Money" in content for content in code.files.values())


def test_typescript_writes_ts_files(registry: LanguageRegistry) -> None:
    status = registry.get("typescript")
    require_enabled(status)
    code = generate(status, files=FILES, targets=sorted(FILES), grpc=False, options=[], timeout=60)
    expected = (
        {"common/v1/money_pb.ts", "payments/v1/payment_pb.ts"}
        if status.generator == "protoc-gen-es"
        else {"common/v1/money.ts", "payments/v1/payment.ts"}
    )
    assert set(code.files) == expected
    assert b"Payment" in code.files[sorted(expected)[1]]


def test_dependencies_code_is_generated_when_they_are_targets(registry: LanguageRegistry) -> None:
    status = registry.get("java")
    require_enabled(status)
    code = generate(status, files=FILES, targets=sorted(FILES), grpc=False, options=[], timeout=60)
    assert set(code.files) == {
        "common/v1/MoneyOuterClass.java",
        "payments/v1/PaymentOuterClass.java",
    }


# Go import paths ------------------------------------------------------------------------------


def test_go_files_without_go_package_are_mapped_to_their_directory(
    registry: LanguageRegistry,
) -> None:
    status = registry.get("go")
    require_enabled(status)
    code = generate(status, files=FILES, targets=sorted(FILES), grpc=False, options=[], timeout=60)
    payment = code.files["payments/v1/payment.pb.go"].decode()
    assert "package v1" in payment
    assert 'v1 "common/v1"' in payment  # the dependency, imported by its directory


def test_go_package_is_kept_when_a_file_sets_it(registry: LanguageRegistry) -> None:
    status = registry.get("go-grpc")
    require_enabled(status)
    files = dict(FILES)
    files["payments/v1/payment.proto"] = PAYMENT.replace(
        "package payments.v1;",
        'package payments.v1;\n// option go_package = "wrong";\n'
        'option go_package = "example.com/acme/payments/v1;paymentsv1";',
    )
    code = generate(status, files=files, targets=OWN, grpc=True, options=[], timeout=60)
    assert set(code.files) == {
        "example.com/acme/payments/v1/payment.pb.go",
        "example.com/acme/payments/v1/payment_grpc.pb.go",
    }
    assert "package paymentsv1" in code.files["example.com/acme/payments/v1/payment.pb.go"].decode()
    relative = generate(
        status, files=files, targets=OWN, grpc=True, timeout=60,
        options=["paths=source_relative", "require_unimplemented_servers=false"],
    )  # fmt: skip
    assert set(relative.files) == EXPECTED["go-grpc"]
    # Only protoc-gen-go-grpc was given require_unimplemented_servers (protoc-gen-go refuses
    # options it does not know), and it obeyed.
    stubs = relative.files["payments/v1/payment_grpc.pb.go"]
    assert stubs != code.files["example.com/acme/payments/v1/payment_grpc.pb.go"]
    assert b"All implementations must embed" not in stubs


@pytest.mark.parametrize(
    ("text", "sets"),
    [
        ('option go_package = "x/y";', True),
        ('option  go_package="x/y";', True),
        ('// option go_package = "x/y";', False),
        ('/* option go_package = "x/y"; */', False),
        ('option java_package = "option go_package = ";', False),
        ("", False),
    ],
)
def test_go_package_detection_ignores_comments_and_strings(text: str, sets: bool) -> None:
    assert sets_go_package(text) is sets


def test_go_import_mappings() -> None:
    files = {"b.proto": "", "a/v1/x.proto": "", "c/y.proto": 'option go_package = "z";'}
    assert go_import_mappings(files) == ["Ma/v1/x.proto=a/v1", "Mb.proto=b"]
    with pytest.raises(ValueError, match="Go import path"):
        go_import_mappings({"a,b/x.proto": ""})


# Options -----------------------------------------------------------------------------------


def test_allowed_options_reach_the_generator(registry: LanguageRegistry) -> None:
    status = registry.get("csharp")
    require_enabled(status)
    plain = generate(status, files=FILES, targets=OWN, grpc=False, options=[], timeout=60)
    internal = generate(
        status, files=FILES, targets=OWN, grpc=False, options=["internal_access"], timeout=60
    )
    name = "Payments/V1/Payment.cs"
    assert b"public sealed partial class Payment" in plain.files[name]
    assert b"internal sealed partial class Payment" in internal.files[name]


@pytest.fixture
def no_stray_temp_dirs() -> Iterator[None]:
    import tempfile

    def ours() -> set[str]:
        return {p.name for p in Path(tempfile.gettempdir()).glob("spoke-codegen-*")}

    before = ours()
    yield
    assert ours() <= before


def test_the_private_directory_is_removed(
    registry: LanguageRegistry, no_stray_temp_dirs: None
) -> None:
    generate(registry.get("python"), files=FILES, targets=OWN, grpc=False, options=[], timeout=60)
