"""Which Buf rules make each kind of change breaking.

The diff lists every change; whether one is breaking is not decided here but by the checker:
a change is breaking when the policy's violations include one of the rules below at the
change's location. Additions map to the deletion rules because under a ``FORWARD`` policy the
sides are swapped, and an added element is a deleted one seen from the other side.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from spoke.compat.categories import FILE_OPTIONS

_FIELD_DELETE = (
    "FIELD_NO_DELETE",
    "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
    # Adding or removing a required field also changes the message's required set.
    "MESSAGE_SAME_REQUIRED_FIELDS",
)
_FIELD_TYPE = ("FIELD_SAME_TYPE", "FIELD_WIRE_COMPATIBLE_TYPE", "FIELD_WIRE_JSON_COMPATIBLE_TYPE")
_FIELD_CARDINALITY = (
    "FIELD_SAME_CARDINALITY",
    "FIELD_WIRE_COMPATIBLE_CARDINALITY",
    "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
    "MESSAGE_SAME_REQUIRED_FIELDS",
)
_ENUM_VALUE_DELETE = (
    "ENUM_VALUE_NO_DELETE",
    "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
    # Dropping one alias of a number that stays is a change of the value's names.
    "ENUM_VALUE_SAME_NAME",
)
_MESSAGE_DELETE = ("MESSAGE_NO_DELETE", "PACKAGE_MESSAGE_NO_DELETE")
_ENUM_DELETE = ("ENUM_NO_DELETE", "PACKAGE_ENUM_NO_DELETE")
_SERVICE_DELETE = ("SERVICE_NO_DELETE", "PACKAGE_SERVICE_NO_DELETE")
# The checker pairs extensions by (extendee, number), the diff by name: an extension that
# keeps its number under a new name is one removed and one added here, a rename there.
_EXTENSION_DELETE = ("EXTENSION_NO_DELETE", "PACKAGE_EXTENSION_NO_DELETE", "FIELD_SAME_NAME")
_RESERVED = ("RESERVED_MESSAGE_NO_DELETE", "RESERVED_ENUM_NO_DELETE")

# Change type -> the rules whose violation at the change's location makes it breaking. The
# option types are refined per option name by OPTION_RULES; an empty row means no Buf rule
# covers the change, so it is always non_breaking.
RULES_BY_CHANGE: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        name: frozenset(rules)
        for name, rules in {
            "file_added": ("FILE_NO_DELETE",),
            "file_removed": ("FILE_NO_DELETE",),
            "file_package_changed": ("FILE_SAME_PACKAGE",),
            "file_syntax_changed": ("FILE_SAME_SYNTAX",),
            "file_option_changed": (),
            "message_added": _MESSAGE_DELETE,
            "message_removed": _MESSAGE_DELETE,
            "message_moved": ("MESSAGE_NO_DELETE",),
            "message_option_changed": (),
            "field_added": _FIELD_DELETE,
            "field_removed": _FIELD_DELETE,
            "field_renamed": ("FIELD_SAME_NAME", "FIELD_SAME_JSON_NAME"),
            "field_type_changed": _FIELD_TYPE,
            "field_cardinality_changed": _FIELD_CARDINALITY,
            "field_json_name_changed": ("FIELD_SAME_JSON_NAME",),
            "field_oneof_changed": ("FIELD_SAME_ONEOF",),
            "field_default_changed": ("FIELD_SAME_DEFAULT",),
            "field_option_changed": (),
            "oneof_added": ("ONEOF_NO_DELETE",),
            "oneof_removed": ("ONEOF_NO_DELETE",),
            "oneof_option_changed": (),
            "reserved_added": _RESERVED,
            "reserved_removed": _RESERVED,
            "extension_range_added": ("EXTENSION_MESSAGE_NO_DELETE",),
            "extension_range_removed": ("EXTENSION_MESSAGE_NO_DELETE",),
            "enum_added": _ENUM_DELETE,
            "enum_removed": _ENUM_DELETE,
            "enum_moved": ("ENUM_NO_DELETE",),
            "enum_option_changed": (),
            "enum_value_added": _ENUM_VALUE_DELETE,
            "enum_value_removed": _ENUM_VALUE_DELETE,
            "enum_value_renamed": ("ENUM_VALUE_SAME_NAME",),
            "enum_value_option_changed": (),
            "service_added": _SERVICE_DELETE,
            "service_removed": _SERVICE_DELETE,
            "service_moved": ("SERVICE_NO_DELETE",),
            "service_option_changed": (),
            "rpc_added": ("RPC_NO_DELETE",),
            "rpc_removed": ("RPC_NO_DELETE",),
            "rpc_request_type_changed": ("RPC_SAME_REQUEST_TYPE",),
            "rpc_response_type_changed": ("RPC_SAME_RESPONSE_TYPE",),
            "rpc_streaming_changed": ("RPC_SAME_CLIENT_STREAMING", "RPC_SAME_SERVER_STREAMING"),
            "rpc_idempotency_changed": ("RPC_SAME_IDEMPOTENCY_LEVEL",),
            "rpc_option_changed": (),
            "extension_added": _EXTENSION_DELETE,
            "extension_removed": _EXTENSION_DELETE,
            "extension_moved": ("EXTENSION_NO_DELETE",),
            "extension_number_changed": (),
            "extension_extendee_changed": (),
        }.items()
    }
)
CHANGE_TYPES = tuple(RULES_BY_CHANGE)

_FIELD_UTF8 = (
    ("FIELD_SAME_UTF8_VALIDATION", "field"),
    ("FIELD_SAME_JAVA_UTF8_VALIDATION", "field"),
)
_JSON_FORMAT = (("MESSAGE_SAME_JSON_FORMAT", "message"), ("ENUM_SAME_JSON_FORMAT", "enum"))

# Option (as the diff spells it) -> (rule, kind of element the rule reports on). A feature
# declared on a file or message applies to the elements inside it, and the checker reports
# the resolved value on each of them, so the option's change is breaking when the rule fires
# on the element that declares it or on any element of that kind inside it.
OPTION_RULES: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType(
    {
        **{name: ((f"FILE_SAME_{name.upper()}", "file"),) for name in FILE_OPTIONS},
        "java_string_check_utf8": (("FIELD_SAME_JAVA_UTF8_VALIDATION", "field"),),
        "no_standard_descriptor_accessor": (
            ("MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR", "message"),
        ),
        "jstype": (("FIELD_SAME_JSTYPE", "field"),),
        "ctype": (("FIELD_SAME_CPP_STRING_TYPE", "field"),),
        "features.(pb.cpp).string_type": (("FIELD_SAME_CPP_STRING_TYPE", "field"),),
        "features.(pb.java).utf8_validation": (("FIELD_SAME_JAVA_UTF8_VALIDATION", "field"),),
        "features.utf8_validation": _FIELD_UTF8,
        "features.field_presence": tuple((rule, "field") for rule in _FIELD_CARDINALITY),
        "features.message_encoding": tuple((rule, "field") for rule in _FIELD_TYPE),
        "features.enum_type": (("ENUM_SAME_TYPE", "enum"),),
        "features.json_format": _JSON_FORMAT,
    }
)

# A change of syntax or edition changes the default of every feature at once.
SYNTAX_RULES: tuple[tuple[str, str], ...] = tuple(
    sorted({pair for pairs in OPTION_RULES.values() for pair in pairs if pair[1] != "file"})
)
