#!/usr/bin/env python3
"""Turns the stub executable into a C array (build step)."""
import sys

data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as out:
    out.write("/* Generated from %s. */\n#include <stddef.h>\n" % sys.argv[1].split("/")[-1])
    out.write("const unsigned char g_stub_elf[] = {\n")
    for i in range(0, len(data), 16):
        out.write("    " + "".join("0x%02x," % b for b in data[i:i + 16]) + "\n")
    out.write("};\nconst size_t g_stub_elf_size = sizeof(g_stub_elf);\n")
