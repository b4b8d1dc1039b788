"""Rules on paired services and their RPCs."""

from __future__ import annotations

from google.protobuf import descriptor_pb2 as d

from spoke.compat.model import Report, ServiceInfo

_RPC_RULES = (
    ("RPC_SAME_REQUEST_TYPE", "input_type", 2, "request type"),
    ("RPC_SAME_RESPONSE_TYPE", "output_type", 3, "response type"),
    ("RPC_SAME_CLIENT_STREAMING", "client_streaming", 5, "client streaming"),
    ("RPC_SAME_SERVER_STREAMING", "server_streaming", 6, "server streaming"),
    ("RPC_SAME_IDEMPOTENCY_LEVEL", "idempotency_level", 4, "idempotency level"),
)


def check_service(old: ServiceInfo, new: ServiceInfo, report: Report) -> None:
    name, file = new.name, new.file
    new_methods = {m.name: (i, m) for i, m in enumerate(new.proto.method)}
    for om in old.proto.method:
        found = new_methods.get(om.name)
        if found is None:
            report.add(
                "RPC_NO_DELETE",
                f'Previously present RPC "{om.name}" on service "{name}" was deleted.',
                file,
                new.path,
                f"{name}.{om.name}",
            )
            continue
        mi, nm = found
        mpath = (*new.path, 2, mi)
        for rule, attr, num, what in _RPC_RULES:
            before, after = _value(om, attr), _value(nm, attr)
            if before != after:
                report.add(
                    rule,
                    f'RPC "{om.name}" on service "{name}" changed {what} from "{before}" to '
                    f'"{after}".',
                    file,
                    (*mpath, num) if (*mpath, num) in file.locations else mpath,
                    f"{name}.{om.name}",
                )


def _value(method: d.MethodDescriptorProto, attr: str) -> str:
    if attr in ("input_type", "output_type"):
        return str(getattr(method, attr)).lstrip(".")
    if attr == "idempotency_level":
        return str(d.MethodOptions.IdempotencyLevel.Name(method.options.idempotency_level))
    return "streaming" if getattr(method, attr) else "unary"
