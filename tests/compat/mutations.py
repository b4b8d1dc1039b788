"""Random schema mutations (fixed seed) for the oracle test: rename, renumber, retype, delete,
reserve, move into a oneof, change package or options."""

from __future__ import annotations

import copy
import random
from typing import Any

_SCALARS = [
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "sfixed32",
    "fixed64", "sfixed64", "string", "bytes", "bool", "double", "float", "E",
]  # fmt: skip


_MAP_KEYS = ("int32", "int64", "uint32", "sint64", "fixed32", "string", "bool")


def _random_schema(rng: random.Random) -> dict[str, Any]:
    messages = []
    for m in range(rng.randint(1, 3)):
        fields = [
            {"name": f"f{n}", "number": n, "type": rng.choice(_SCALARS), "label": "", "oneof": None}
            for n in range(1, rng.randint(2, 5))
        ]
        messages.append(
            {"name": f"M{m}", "fields": fields, "reserved": [], "nested": rng.random() < 0.5}
        )
    return {
        "package": "a.v1",
        "go_package": "x/a",
        "messages": messages,
        "enum": ["E_UNSPECIFIED", "E_A", "E_B"],
        "rpcs": [{"name": "Get", "req": "M0", "res": "M0", "cs": False, "ss": False}],
    }


def _render(s: dict[str, Any]) -> str:
    out = [f'syntax = "proto3";\npackage {s["package"]};\noption go_package = "{s["go_package"]}";']
    for m in s["messages"]:
        body = []
        oneofs: dict[str, list[str]] = {}
        for f in m["fields"]:
            json = f' [json_name = "{f["json"]}"]' if f.get("json") else ""
            line = f"{f['label']}{f['type']} {f['name']} = {f['number']}{json};"
            if f["oneof"]:
                oneofs.setdefault(f["oneof"], []).append(line)
            else:
                body.append(line)
        body += [f"oneof {name} {{ {' '.join(lines)} }}" for name, lines in oneofs.items()]
        if m["reserved"]:
            body.append("reserved " + ", ".join(str(r) for r in m["reserved"]) + ";")
        if m.get("reserved_names"):
            body.append("reserved " + ", ".join(f'"{r}"' for r in m["reserved_names"]) + ";")
        if m["nested"]:
            body.append("message Inner { int32 x = 1; }")
        out.append(f"message {m['name']} {{ {' '.join(body)} }}")
    if s["enum"]:
        values = " ".join(f"{v} = {i};" for i, v in enumerate(s["enum"]))
        if "enum_reserved" in s:
            values += f" reserved {s['enum_reserved']};"
        out.append(f"enum E {{ {values} }}")
    rpcs = " ".join(
        f"rpc {r['name']}({'stream ' if r['cs'] else ''}{r['req']}) "
        f"returns ({'stream ' if r['ss'] else ''}{r['res']});"
        for r in s["rpcs"]
    )
    if rpcs:
        out.append(f"service S {{ {rpcs} }}")
    return "\n".join(out) + "\n"


def _mutate(s: dict[str, Any], rng: random.Random) -> None:
    m = rng.choice(s["messages"])
    f = rng.choice(m["fields"])
    kind = rng.choice(
        [
            "rename",
            "renumber",
            "retype",
            "delete",
            "reserve",
            "oneof",
            "optional",
            "repeated",
            "package",
            "go_package",
            "nested",
            "enum_value",
            "stream",
            "rpc_type",
            "message_delete",
            "enum_delete",
            "json_name",
            "rpc_delete",
            "unreserve",
            "reserve_name",
            "map",
            "enum_reserve",
        ]
    )
    used = {x["number"] for x in m["fields"]} | set(m["reserved"])
    is_map = f["type"].startswith("map<") and kind in ("oneof", "optional", "repeated")
    if kind == "rename":
        f["name"] += "x"
    elif kind == "renumber":
        f["number"] = max(used) + 1
    elif kind == "retype":
        f["type"] = rng.choice([t for t in _SCALARS if s["enum"] or t != "E"])
    elif kind in ("delete", "reserve") and len(m["fields"]) > 1:
        m["fields"].remove(f)
        if kind == "reserve":
            m["reserved"].append(f["number"])
    elif is_map:
        pass  # a map field cannot go into a oneof or take a label
    elif kind == "oneof" and not f["label"]:
        f["oneof"] = rng.choice(["o", "p"])
    elif kind == "optional" and not f["oneof"]:
        f["label"] = "optional "
    elif kind == "repeated" and not f["oneof"]:
        f["label"] = "repeated "
    elif kind == "package":
        s["package"] = "a.v2"
    elif kind == "go_package":
        s["go_package"] = "x/b"
    elif kind == "nested":
        m["nested"] = not m["nested"]
    elif kind == "enum_value" and len(s["enum"]) > 1:
        s["enum"].pop()
    elif kind == "stream" and s["rpcs"]:
        s["rpcs"][0]["ss"] = not s["rpcs"][0]["ss"]
    elif kind == "message_delete" and len(s["messages"]) > 1 and m["name"] != "M0":
        s["messages"].remove(m)
    elif kind == "enum_delete":
        s["enum"] = []
        s.pop("enum_reserved", None)
        for msg in s["messages"]:
            for field in msg["fields"]:
                if field["type"] == "E":
                    field["type"] = "int32"
    elif kind == "json_name":
        f["json"] = "j" + f["name"]
    elif kind == "rpc_delete":
        s["rpcs"] = []
    elif kind == "reserve_name" and len(m["fields"]) > 1:
        m["fields"].remove(f)
        m.setdefault("reserved_names", []).append(f["name"])
    elif kind == "map" and not f["oneof"] and not f["label"] and f["type"] in _MAP_KEYS:
        f["type"] = f"map<{f['type']}, string>"
    elif kind == "enum_reserve" and len(s["enum"]) > 1:
        s["enum"].pop()
        s["enum_reserved"] = len(s["enum"])
    elif kind == "unreserve" and m["reserved"]:
        m["reserved"].pop()
    elif kind == "rpc_type" and s["rpcs"]:
        s["rpcs"][0]["res"] = rng.choice([x["name"] for x in s["messages"]])


def random_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        old = _random_schema(rng)
        if rng.random() < 0.3:
            _mutate(old, rng)  # e.g. a reserved range in the old version
        new = copy.deepcopy(old)
        for _ in range(rng.randint(1, 3)):
            _mutate(new, rng)
        pairs.append((_render(old), _render(new)))
    return pairs
