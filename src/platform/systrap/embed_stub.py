#!/usr/bin/env python3
"""Build step: turns the systrap stub executable into a C array
(g_systrap_stub_elf), with the address of the syscall trampoline's common
entry (g_systrap_tramp_entry, from its symbol table), and checks that its loaded image fits the first
SYSTRAP_PROG_MAX bytes of the stub region.

    embed_stub.py STUB_ELF OUT_C BASE LIMIT
"""
import os
import struct
import sys

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stub"))
from embed import symbol  # noqa: E402 (the ptrace stub's embed.py)

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

tramp_entry = symbol(data, b"stub_tramp_entry")
if not base <= tramp_entry < base + limit:
    sys.exit("embed_stub.py: stub_tramp_entry is outside the stub program")
with open(out_path, "w") as out:
    out.write("/* Generated from the systrap stub executable by embed_stub.py. */\n")
    out.write("#include <stddef.h>\n")
    out.write("extern const unsigned char g_systrap_stub_elf[];\n")
    out.write("extern const size_t g_systrap_stub_elf_size;\n")
    out.write("const unsigned char g_systrap_stub_elf[] = {\n")
    for i in range(0, len(data), 16):
        out.write("    " + "".join("0x%02x," % b for b in data[i:i + 16]) + "\n")
    out.write("};\nconst size_t g_systrap_stub_elf_size = sizeof(g_systrap_stub_elf);\n")
    out.write("#include <stdint.h>\n")
    out.write("extern const uint64_t g_systrap_tramp_entry;\n")
    out.write("const uint64_t g_systrap_tramp_entry = %#xULL;\n" % tramp_entry)
