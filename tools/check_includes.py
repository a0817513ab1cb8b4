#!/usr/bin/env python3
"""Checks the include graph of src/: each layer may include only the layers below it.

base <- (config, model, engine, tz, media <- sip) <- store <- provision <- api <- cli <- main.c;
channels (the digital channels' adapters: email MIME, ...) sit on base, below api.
The engine is pure: besides base it may include only the C standard library, never a system
or third-party header that does I/O. Exit code 1 and one line per violation otherwise.
"""
import os
import re
import sys

ALLOWED = {
    "base": {"base"},
    "config": {"config", "base"},
    "model": {"model", "engine", "tz", "base"},
    "engine": {"engine", "base"},
    "store": {"store", "model", "base"},
    "provision": {"provision", "store", "model", "base"},
    "tz": {"tz", "base"},
    "media": {"media", "base"},
    "sip": {"sip", "media", "base"},
    "channels": {"channels", "base"},
    "api": {"api", "provision", "store", "sip", "media", "tz", "engine", "model", "channels",
            "base"},
    "sim": {"sim", "engine", "base"},
    "cli": {"cli", "api", "sim", "provision", "store", "sip", "media", "tz", "engine", "model",
            "channels", "config", "base"},
}
# What the pure engine may take from the system: the C standard library, and POSIX regular
# expressions (pure computation: the IVR's collect patterns), nothing more.
ENGINE_SYSTEM = {"stdint.h", "stddef.h", "stdbool.h", "string.h", "stdlib.h", "limits.h",
                 "inttypes.h", "stdarg.h", "stdio.h", "math.h", "assert.h", "regex.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def main(root):
    bad = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            layer = rel.split(os.sep)[0] if os.sep in rel else "main"
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    kind, target = m.groups()
                    if kind == '"':
                        tlayer = target.split("/")[0]
                        if "/" not in target:
                            tlayer = layer
                        if layer == "main":
                            continue
                        if tlayer not in ALLOWED.get(layer, set()):
                            bad.append(f"{rel}:{lineno}: layer '{layer}' must not include {target}")
                    elif layer == "engine" and target not in ENGINE_SYSTEM:
                        bad.append(f"{rel}:{lineno}: the engine is pure; <{target}> is not allowed")
    for b in bad:
        print(b)
    print(f"include graph: {len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src"))
