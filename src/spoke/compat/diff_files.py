"""Changes of whole files (added, removed, package, syntax, options), of services and their
RPCs, and of extensions paired by name."""

from __future__ import annotations

from google.protobuf import descriptor_pb2 as d

from spoke.compat.diff_fields import compare_field
from spoke.compat.diff_messages import option_rules
from spoke.compat.diff_model import Changes, Place, loc
from spoke.compat.diff_options import compare_options
from spoke.compat.diff_rules import SYNTAX_RULES
from spoke.compat.diff_side import Side, extension_name
from spoke.compat.model import FieldInfo, ServiceInfo, syntax_of

_PACKAGE_DELETIONS = (
    "PACKAGE_MESSAGE_NO_DELETE",
    "PACKAGE_ENUM_NO_DELETE",
    "PACKAGE_SERVICE_NO_DELETE",
    "PACKAGE_EXTENSION_NO_DELETE",
)


def _packages(side: Side) -> set[str]:
    return {f.package for f in side.files.values()}


def _whole_file_pairs(side: Side, other: Side, name: str) -> list[tuple[str, str]]:
    """What the PACKAGE rules report when a file disappears with its elements: each element
    (located without a file, as the file is gone), and the package when no file holds it."""
    pairs = [
        (rule, at)
        for element in side.names_in_file(name)
        for rule in _PACKAGE_DELETIONS
        for at in (f":{element}", loc(name, element))
    ]
    if side.files[name].package not in _packages(other):
        pairs.append(("PACKAGE_NO_DELETE", ""))
    return pairs


def compare_files(sides: tuple[Side, Side], out: Changes) -> None:
    before, after = sides
    for name in sorted(before.files.keys() | after.files.keys()):
        old, new = before.files.get(name), after.files.get(name)
        here = Place(name)
        if new is None:
            out.add(
                "file_removed",
                here,
                name,
                None,
                f'File "{name}" was removed.',
                extra=_whole_file_pairs(before, after, name),
            )
            continue
        if old is None:
            out.add(
                "file_added",
                here,
                None,
                name,
                f'File "{name}" was added.',
                extra=_whole_file_pairs(after, before, name),
            )
            continue
        if old.package != new.package:
            gone = old.package not in _packages(after) or new.package not in _packages(before)
            out.add(
                "file_package_changed",
                here,
                old.package,
                new.package,
                f'File "{name}" changed package from "{old.package}" to "{new.package}".',
                extra=[("PACKAGE_NO_DELETE", "")] if gone else [],
            )
        old_syntax, new_syntax = syntax_of(old.proto), syntax_of(new.proto)
        if old_syntax != new_syntax:
            out.add(
                "file_syntax_changed",
                here,
                old_syntax,
                new_syntax,
                f'File "{name}" changed syntax from "{old_syntax}" to "{new_syntax}".',
                extra=[
                    (rule, at)
                    for side in sides
                    for rule, kind in SYNTAX_RULES
                    for at in side.locations_within(name, "", kind)
                ],
            )
        for change in compare_options(
            before.options.read(old.proto.options), after.options.read(new.proto.options)
        ):
            out.add(
                "file_option_changed",
                here,
                change.value(new=False),
                change.value(new=True),
                f'File "{name}" changed option "{change.name}" from {change.shown(new=False)} '
                f"to {change.shown(new=True)}.",
                rules=(),
                extra=option_rules(change.name, sides, ((name, ""), (name, ""))),
            )


def _relative(type_name: str, package: str) -> str:
    name = type_name.lstrip(".")
    return name.removeprefix(f"{package}.") if package else name


def _shape(client: bool, server: bool) -> str:
    return {
        (False, False): "unary",
        (True, False): "client streaming",
        (False, True): "server streaming",
        (True, True): "bidirectional streaming",
    }[(client, server)]


def signature(m: d.MethodDescriptorProto) -> str:
    """An RPC as a schema declares it: ``Get(a.v1.Req) returns (stream a.v1.Resp)``."""
    client = "stream " if m.client_streaming else ""
    server = "stream " if m.server_streaming else ""
    request, response = str(m.input_type).lstrip("."), str(m.output_type).lstrip(".")
    return f"{m.name}({client}{request}) returns ({server}{response})"


def compare_service(
    old: ServiceInfo, new: ServiceInfo, sides: tuple[Side, Side], out: Changes
) -> None:
    nf, of = new.file.name, old.file.name
    here = Place(loc(nf, new.name), (loc(of, old.name),))
    what = f'service "{new.name}"'
    for change in compare_options(
        sides[0].options.read(old.proto.options), sides[1].options.read(new.proto.options)
    ):
        out.add(
            "service_option_changed",
            here,
            change.value(new=False),
            change.value(new=True),
            f'Service "{new.name}" changed option "{change.name}" from '
            f"{change.shown(new=False)} to {change.shown(new=True)}.",
        )
    before = {m.name: m for m in old.proto.method}
    after = {m.name: m for m in new.proto.method}
    for name in sorted(before.keys() | after.keys()):
        place = Place(loc(nf, new.name, name), (loc(of, old.name, name),))
        om, nm = before.get(name), after.get(name)
        if nm is None:
            out.add(
                "rpc_removed", place, signature(om), None, f'RPC "{name}" was removed from {what}.'
            )
            continue
        if om is None:
            out.add("rpc_added", place, None, signature(nm), f'RPC "{name}" was added to {what}.')
            continue
        rpc = f'RPC "{name}" of {what}'
        for change_type, attr, words in (
            ("rpc_request_type_changed", "input_type", "request type"),
            ("rpc_response_type_changed", "output_type", "response type"),
        ):
            o_type, n_type = str(getattr(om, attr)), str(getattr(nm, attr))
            if _relative(o_type, old.file.package) != _relative(n_type, new.file.package):
                shown_old, shown_new = o_type.lstrip("."), n_type.lstrip(".")
                out.add(
                    change_type,
                    place,
                    shown_old,
                    shown_new,
                    f'{rpc} changed {words} from "{shown_old}" to "{shown_new}".',
                )
        o_shape = _shape(om.client_streaming, om.server_streaming)
        n_shape = _shape(nm.client_streaming, nm.server_streaming)
        if o_shape != n_shape:
            out.add(
                "rpc_streaming_changed",
                place,
                o_shape,
                n_shape,
                f'{rpc} changed streaming from "{o_shape}" to "{n_shape}".',
            )
        o_level = om.options.IdempotencyLevel.Name(om.options.idempotency_level)
        n_level = nm.options.IdempotencyLevel.Name(nm.options.idempotency_level)
        if o_level != n_level:
            out.add(
                "rpc_idempotency_changed",
                place,
                o_level,
                n_level,
                f'{rpc} changed idempotency level from "{o_level}" to "{n_level}".',
            )
        for change in compare_options(
            sides[0].options.read(om.options, skip=("idempotency_level",)),
            sides[1].options.read(nm.options, skip=("idempotency_level",)),
        ):
            out.add(
                "rpc_option_changed",
                place,
                change.value(new=False),
                change.value(new=True),
                f'{rpc} changed option "{change.name}" from {change.shown(new=False)} to '
                f"{change.shown(new=True)}.",
            )


def compare_extension(
    old: FieldInfo, new: FieldInfo, sides: tuple[Side, Side], out: Changes
) -> None:
    """Extensions are paired by name; besides what fields compare, their number and the
    message they extend may change."""
    name = extension_name(new)
    place = Place(loc(new.file.name, name), (loc(old.file.name, extension_name(old)),))
    what = f'extension "{name}"'
    if old.proto.number != new.proto.number:
        out.add(
            "extension_number_changed",
            place,
            str(old.proto.number),
            str(new.proto.number),
            f'Extension "{name}" changed number from {old.proto.number} to {new.proto.number}.',
        )
    o_ext, n_ext = str(old.proto.extendee), str(new.proto.extendee)
    if _relative(o_ext, old.file.package) != _relative(n_ext, new.file.package):
        shown_old, shown_new = o_ext.lstrip("."), n_ext.lstrip(".")
        out.add(
            "extension_extendee_changed",
            place,
            shown_old,
            shown_new,
            f'Extension "{name}" now extends "{shown_new}" instead of "{shown_old}".',
        )
    compare_field(old, new, place, what, out, (sides[0].options, sides[1].options))
