"""Rules on services and RPCs (Buf's FILE category)."""

from __future__ import annotations

from google.protobuf import descriptor_pb2 as d

from spoke.compat.model import FileInfo, Path, Report


def check_services(old: FileInfo, new: FileInfo, report: Report, *, inner: bool = True) -> None:
    """Service deletions; with ``inner``, also the RPCs of the services kept."""
    new_services = {s.name: (i, s) for i, s in enumerate(new.proto.service)}
    for svc in old.proto.service:
        entry = new_services.get(svc.name)
        if entry is None:
            report.add(
                "SERVICE_NO_DELETE",
                f'Previously present service "{svc.name}" was deleted from file.',
                new,
                None,
            )
            continue
        if not inner:
            continue
        si, nsvc = entry
        new_methods = {m.name: (i, m) for i, m in enumerate(nsvc.method)}
        for om in svc.method:
            found = new_methods.get(om.name)
            if found is None:
                report.add(
                    "RPC_NO_DELETE",
                    f'Previously present RPC "{om.name}" on service "{svc.name}" was deleted.',
                    new,
                    (6, si),
                )
                continue
            mi, nm = found
            mpath: Path = (6, si, 2, mi)
            for rule, attr, num, what in (
                ("RPC_SAME_REQUEST_TYPE", "input_type", 2, "request type"),
                ("RPC_SAME_RESPONSE_TYPE", "output_type", 3, "response type"),
                ("RPC_SAME_CLIENT_STREAMING", "client_streaming", 5, "client streaming"),
                ("RPC_SAME_SERVER_STREAMING", "server_streaming", 6, "server streaming"),
                ("RPC_SAME_IDEMPOTENCY_LEVEL", "idempotency_level", 4, "idempotency level"),
            ):
                before = _value(om, attr, old.proto.package)
                after = _value(nm, attr, new.proto.package)
                if before != after:
                    report.add(
                        rule,
                        f'RPC "{om.name}" on service "{svc.name}" changed {what} from '
                        f'"{str(before).lstrip(".")}" to "{str(after).lstrip(".")}".',
                        new,
                        (*mpath, num) if (*mpath, num) in new.locations else mpath,
                    )


def _value(method: d.MethodDescriptorProto, attr: str, package: str) -> str:
    """The attribute as text; type names relative to the file's package, as buf compares
    them (a package change alone is reported once, as FILE_SAME_PACKAGE)."""
    if attr in ("input_type", "output_type"):
        name = str(getattr(method, attr))
        prefix = f".{package}." if package else "."
        return name[len(prefix) :] if name.startswith(prefix) else name.lstrip(".")
    if attr == "idempotency_level":
        level = method.options.idempotency_level
        return str(d.MethodOptions.IdempotencyLevel.Name(level))
    return str(getattr(method, attr))
