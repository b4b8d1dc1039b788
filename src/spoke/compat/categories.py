"""Buf's breaking-change rule categories (configuration v2): which rule IDs each one holds.

Every rule has one meaning whatever category enables it, so the checker evaluates all rules
and a category is a filter over the result.
"""

from __future__ import annotations

# File options whose change breaks generated code (Buf's FILE_SAME_<OPTION> rules); the checker
# and the diff both read this list.
FILE_OPTIONS = (
    "go_package",
    "java_package",
    "java_outer_classname",
    "java_multiple_files",
    "optimize_for",
    "cc_generic_services",
    "java_generic_services",
    "py_generic_services",
    "cc_enable_arenas",
    "objc_class_prefix",
    "csharp_namespace",
    "swift_prefix",
    "php_class_prefix",
    "php_namespace",
    "php_metadata_namespace",
    "ruby_package",
)
_FILE_OPTION_RULES = tuple(f"FILE_SAME_{name.upper()}" for name in FILE_OPTIONS)

# In every category: wire-level facts that no consumer can survive a change of.
_WIRE = (
    "FIELD_SAME_DEFAULT",
    "FIELD_SAME_ONEOF",
    "FILE_SAME_PACKAGE",
    "MESSAGE_SAME_REQUIRED_FIELDS",
    "RESERVED_ENUM_NO_DELETE",
    "RESERVED_MESSAGE_NO_DELETE",
    "RPC_SAME_CLIENT_STREAMING",
    "RPC_SAME_IDEMPOTENCY_LEVEL",
    "RPC_SAME_REQUEST_TYPE",
    "RPC_SAME_RESPONSE_TYPE",
    "RPC_SAME_SERVER_STREAMING",
)
# FILE, PACKAGE and WIRE_JSON: what the JSON mapping depends on.
_JSON = (
    "ENUM_SAME_JSON_FORMAT",
    "ENUM_VALUE_SAME_NAME",
    "FIELD_SAME_JSON_NAME",
    "FIELD_SAME_NAME",
    "MESSAGE_SAME_JSON_FORMAT",
)
# FILE and PACKAGE: generated code compatibility.
_SOURCE = (
    "ENUM_SAME_TYPE",
    "FIELD_SAME_CARDINALITY",
    "FIELD_SAME_CPP_STRING_TYPE",
    "FIELD_SAME_JAVA_UTF8_VALIDATION",
    "FIELD_SAME_JSTYPE",
    "FIELD_SAME_UTF8_VALIDATION",
    *_FILE_OPTION_RULES,
    "RPC_NO_DELETE",
    "ENUM_VALUE_NO_DELETE",
    "EXTENSION_MESSAGE_NO_DELETE",
    "FIELD_NO_DELETE",
    "FIELD_SAME_TYPE",
    "FILE_SAME_SYNTAX",
    "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR",
    "ONEOF_NO_DELETE",
)
_NUMBER_RESERVED = (
    "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
)

RULES_BY_CATEGORY: dict[str, frozenset[str]] = {
    "FILE": frozenset(
        (
            "EXTENSION_NO_DELETE",
            "SERVICE_NO_DELETE",
            "ENUM_NO_DELETE",
            "FILE_NO_DELETE",
            "MESSAGE_NO_DELETE",
            *_SOURCE,
            *_JSON,
            *_WIRE,
        )
    ),
    "PACKAGE": frozenset(
        (
            "PACKAGE_ENUM_NO_DELETE",
            "PACKAGE_EXTENSION_NO_DELETE",
            "PACKAGE_MESSAGE_NO_DELETE",
            "PACKAGE_NO_DELETE",
            "PACKAGE_SERVICE_NO_DELETE",
            *_SOURCE,
            *_JSON,
            *_WIRE,
        )
    ),
    "WIRE_JSON": frozenset(
        (
            "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
            "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
            "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
            "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
            *_NUMBER_RESERVED,
            *_JSON,
            *_WIRE,
        )
    ),
    "WIRE": frozenset(
        (
            "FIELD_WIRE_COMPATIBLE_CARDINALITY",
            "FIELD_WIRE_COMPATIBLE_TYPE",
            *_NUMBER_RESERVED,
            *_WIRE,
        )
    ),
}
# Buf's category for Confluent Schema Registry compatibility: what a Kafka consumer decoding with
# an older schema, in binary or JSON, depends on; moves between files and packages are fine.
RULES_BY_CATEGORY["CSR"] = frozenset(
    (
        "ENUM_NO_DELETE",
        "ENUM_SAME_JSON_FORMAT",
        "ENUM_VALUE_NO_DELETE",
        "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
        "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
        "ENUM_VALUE_SAME_NAME",
        "EXTENSION_MESSAGE_NO_DELETE",
        "FIELD_NO_DELETE",
        "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
        "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
        "FIELD_SAME_DEFAULT",
        "FIELD_SAME_JSON_NAME",
        "FIELD_SAME_NAME",
        "FIELD_SAME_ONEOF",
        "FIELD_SAME_TYPE",
        "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
        "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
        "FILE_NO_DELETE",
        "FILE_SAME_PACKAGE",
        "FILE_SAME_SYNTAX",
        "MESSAGE_NO_DELETE",
        "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR",
        "MESSAGE_SAME_JSON_FORMAT",
        "MESSAGE_SAME_REQUIRED_FIELDS",
        "ONEOF_NO_DELETE",
        "RESERVED_ENUM_NO_DELETE",
        "RESERVED_MESSAGE_NO_DELETE",
        "RPC_SAME_CLIENT_STREAMING",
        "RPC_SAME_IDEMPOTENCY_LEVEL",
        "RPC_SAME_REQUEST_TYPE",
        "RPC_SAME_RESPONSE_TYPE",
        "RPC_SAME_SERVER_STREAMING",
    )
)
CATEGORIES = tuple(RULES_BY_CATEGORY)
ALL_RULES = frozenset().union(*RULES_BY_CATEGORY.values())
