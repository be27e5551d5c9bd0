#!/usr/bin/env python3
"""make_bootsector.py OUT [--nbp]: write a 512-byte x86 real-mode boot sector.

With --nbp it is a PXE network boot program instead (iPXE loads it at 0000:7C00 over TFTP
and jumps there, as SeaBIOS does a boot sector): no disk access, only the message and the
exit.

The code (hand-assembled below) uses BIOS int 13h on the boot drive
(DL as passed by SeaBIOS) to read 16 sectors (LBA 1..16, CHS 0/0/2) to
0000:8000, writes one sector back (CHS 0/0/4), reads it again, prints a
message on COM1 (0x3f8) and exits QEMU through isa-debug-exit (port 0xf4).
So SeaBIOS drives the virtio-blk device for both reads and a write.
"""
import sys

MSG = b"vqscope: boot sector ran, int13 read/write done\r\n\0"
NBP_MSG = b"vqscope: network boot program ran\r\n\0"


def build(nbp=False):
    code = bytearray()
    code += bytes([0x31, 0xC0])             # xor ax,ax
    code += bytes([0x8E, 0xD8])             # mov ds,ax
    code += bytes([0x8E, 0xC0])             # mov es,ax
    code += bytes([0xFC])                   # cld
    code += bytes([0x88, 0x16, 0x00, 0x7E])  # mov [0x7e00],dl  (save boot drive)

    def int13(ah, count, sector):
        c = bytearray()
        c += bytes([0x8A, 0x16, 0x00, 0x7E])  # mov dl,[0x7e00]
        c += bytes([0xB8, count, ah])         # mov ax, (ah<<8)|count
        c += bytes([0xB9, sector, 0x00])      # mov cx, sector (CH=0, CL=sector)
        c += bytes([0xB6, 0x00])              # mov dh,0
        c += bytes([0xBB, 0x00, 0x80])        # mov bx,0x8000
        c += bytes([0xCD, 0x13])              # int 13h
        return c

    if not nbp:
        code += int13(0x02, 16, 2)   # read 16 sectors starting at LBA 1
        code += int13(0x03, 1, 4)    # write 1 sector at LBA 3
        code += int13(0x02, 1, 4)    # read it back
    mov_si_at = len(code)
    code += bytes([0xBE, 0x00, 0x00])       # mov si,msg (patched)
    loop = len(code)
    code += bytes([0xAC])                   # lodsb
    code += bytes([0x84, 0xC0])             # test al,al
    code += bytes([0x74, 0x06])             # jz done (+6)
    code += bytes([0xBA, 0xF8, 0x03])       # mov dx,0x3f8
    code += bytes([0xEE])                   # out dx,al
    code += bytes([0xEB, (loop - (len(code) + 2)) & 0xFF])  # jmp loop
    code += bytes([0xB0, 0x10])             # mov al,0x10
    code += bytes([0xE6, 0xF4])             # out 0xf4,al  (isa-debug-exit)
    hlt = len(code)
    code += bytes([0xF4])                   # hlt
    code += bytes([0xEB, (hlt - (len(code) + 2)) & 0xFF])   # jmp hlt
    msg_addr = 0x7C00 + len(code)
    code[mov_si_at + 1] = msg_addr & 0xFF
    code[mov_si_at + 2] = msg_addr >> 8
    code += NBP_MSG if nbp else MSG
    assert len(code) <= 510, len(code)
    return bytes(code) + bytes(510 - len(code)) + b"\x55\xAA"


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as f:
        f.write(build(nbp="--nbp" in sys.argv[2:]))
