#!/usr/bin/env python3
"""Build step: turns the stub executable into a C array, and records the
address of its syscall gadget from the stub's symbol table."""
import struct
import sys


def symbol(data, wanted):
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sh in sections:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]
        for off in range(sh[4], sh[4] + sh[5], sh[9]):
            name, _info, _other, _shndx, value, _size = struct.unpack_from("<IBBHQQ", data, off)
            start = strtab[4] + name
            end = data.index(b"\0", start)
            if data[start:end] == wanted:
                return value
    sys.exit("no symbol %s in the stub" % wanted.decode())


def main():
    data = open(sys.argv[1], "rb").read()
    gadget = symbol(data, b"stub_gadget")
    with open(sys.argv[2], "w") as out:
        out.write("/* Generated from the stub executable by embed.py. */\n")
        out.write("#include <stddef.h>\n#include <stdint.h>\n")
        out.write("extern const unsigned char g_stub_elf[];\nextern const size_t g_stub_elf_size;\n")
        out.write("extern const uint64_t g_stub_gadget_addr;\n")
        out.write("const uint64_t g_stub_gadget_addr = 0x%x;\n" % gadget)
        out.write("const unsigned char g_stub_elf[] = {\n")
        for i in range(0, len(data), 16):
            out.write("    " + "".join("0x%02x," % b for b in data[i:i + 16]) + "\n")
        out.write("};\nconst size_t g_stub_elf_size = sizeof(g_stub_elf);\n")


if __name__ == "__main__":
    main()
