#!/usr/bin/env python3
"""Build step: checks the linked vDSO and turns it into a C array.

The image is mapped as it is, one page above the data page, so it must be a
single read+execute PT_LOAD linked at 0 that needs no relocation, and it
must export the symbols glibc looks up. Anything else fails the build."""
import struct
import sys

PT_LOAD, PT_DYNAMIC = 1, 2
PF_X, PF_W, PF_R = 1, 2, 4
SHF_WRITE, SHF_ALLOC = 1, 2
SHT_DYNSYM = 11
DT_NULL = 0
RELOC_TAGS = {7: "DT_RELA", 17: "DT_REL", 23: "DT_JMPREL", 22: "DT_TEXTREL", 36: "DT_RELR"}
EXPORTS = [b"__vdso_clock_gettime", b"__vdso_gettimeofday", b"__vdso_time",
           b"__vdso_clock_getres", b"__vdso_getcpu"]
PAGE = 4096


def fail(msg):
    sys.exit("vdso_embed.py: %s" % msg)


def main():
    data = open(sys.argv[1], "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        fail("not a 64-bit little-endian ELF file")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    e_phoff, e_shoff = struct.unpack_from("<QQ", data, 0x20)
    e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    if e_type != 3 or e_machine != 62:
        fail("not an x86-64 shared object")

    loads, dynamic = [], None
    for i in range(e_phnum):
        p_type, p_flags, p_offset, p_vaddr, _pa, p_filesz, p_memsz, _al = struct.unpack_from(
            "<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == PT_LOAD:
            loads.append((p_flags, p_offset, p_vaddr, p_filesz, p_memsz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if len(loads) != 1:
        fail("%d PT_LOAD segments, want one" % len(loads))
    flags, offset, vaddr, filesz, memsz = loads[0]
    if offset != 0 or vaddr != 0 or filesz != memsz or flags != PF_R | PF_X:
        fail("the PT_LOAD must be R+X at address 0 with no bss")
    if dynamic is None:
        fail("no PT_DYNAMIC")

    for off in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, val = struct.unpack_from("<qQ", data, off)
        if tag == DT_NULL:
            break
        if tag in RELOC_TAGS and (tag == 22 or val):
            fail("the image needs relocation (%s)" % RELOC_TAGS[tag])

    sections = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
                for i in range(e_shnum)]
    shstr = sections[e_shstrndx][4]

    def name_at(base, off):
        return data[base + off:data.index(b"\0", base + off)]

    found = set()
    for sh in sections:
        name = name_at(shstr, sh[0])
        if (sh[2] & SHF_WRITE) and (sh[2] & SHF_ALLOC) and name != b".dynamic" and sh[5]:
            fail("writable section %s: the vDSO may hold no data" % name.decode())
        if sh[1] == SHT_DYNSYM:
            strtab = sections[sh[6]][4]
            for off in range(sh[4], sh[4] + sh[5], sh[9]):
                st_name, _info, _other, shndx, _value, _size = struct.unpack_from(
                    "<IBBHQQ", data, off)
                if shndx != 0:
                    found.add(name_at(strtab, st_name))
    missing = [s.decode() for s in EXPORTS if s not in found]
    if missing:
        fail("missing exports: %s" % ", ".join(missing))

    image = data[:filesz] + b"\0" * (-filesz % PAGE)
    with open(sys.argv[2], "w") as out:
        out.write("/* Generated from the vDSO by vdso_embed.py. */\n")
        out.write("#include <stddef.h>\n")
        out.write("extern const unsigned char g_vdso_image[];\n")
        out.write("extern const size_t g_vdso_image_size;\n")
        out.write("const unsigned char g_vdso_image[] __attribute__((aligned(4096))) = {\n")
        for i in range(0, len(image), 16):
            out.write("    " + "".join("0x%02x," % b for b in image[i:i + 16]) + "\n")
        out.write("};\nconst size_t g_vdso_image_size = sizeof(g_vdso_image);\n")


main()
