#!/usr/bin/env python3
"""Build step: turns the systrap stub executable into a C array
(g_systrap_stub_elf) and checks that its loaded image fits the first
SYSTRAP_PROG_MAX bytes of the stub region.

    embed_stub.py STUB_ELF OUT_C BASE LIMIT
"""
import struct
import sys

path, out_path, base, limit = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4], 0)
data = open(path, "rb").read()
phoff, = struct.unpack_from("<Q", data, 0x20)
phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
for i in range(phnum):
    p_type, _flags, _off, vaddr, _paddr, _filesz, memsz, _align = struct.unpack_from(
        "<IIQQQQQQ", data, phoff + i * phentsize)
    if p_type != 1:  # PT_LOAD
        continue
    if vaddr < base or vaddr + memsz > base + limit:
        sys.exit("embed_stub.py: segment %#x+%#x is outside [%#x, %#x)" %
                 (vaddr, memsz, base, base + limit))
with open(out_path, "w") as out:
    out.write("/* Generated from the systrap stub executable by embed_stub.py. */\n")
    out.write("#include <stddef.h>\n")
    out.write("extern const unsigned char g_systrap_stub_elf[];\n")
    out.write("extern const size_t g_systrap_stub_elf_size;\n")
    out.write("const unsigned char g_systrap_stub_elf[] = {\n")
    for i in range(0, len(data), 16):
        out.write("    " + "".join("0x%02x," % b for b in data[i:i + 16]) + "\n")
    out.write("};\nconst size_t g_systrap_stub_elf_size = sizeof(g_systrap_stub_elf);\n")
