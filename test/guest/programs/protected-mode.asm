; Switches to 32-bit protected mode with flat segments, then string I/O: REP OUTSB of a message
; to the UART and REP INSB from a CMOS RAM byte.
%include "common.inc"
bits 16
org 0
start:
    PM_START pm_entry, 0xf0000, 0x8000
    ; REP OUTSB: the whole message at once
    mov esi, msg + 0xf0000
    mov ecx, msg_len
    mov dx, COM1
    cld
    rep outsb
    ; CMOS RAM byte 0x40 := 0x5a, then read it 8 times with REP INSB into RAM at 0x1000
    mov al, 0x40
    out 0x70, al
    mov al, 0x5a
    out 0x71, al
    mov al, 0x40
    out 0x70, al
    mov edi, 0x1000
    mov ecx, 8
    mov dx, 0x71
    rep insb
    cmp edi, 0x1008
    jne fail
    cmp dword [0x1000], 0x5a5a5a5a
    jne fail
    cmp dword [0x1004], 0x5a5a5a5a
    jne fail
    ; 32-bit arithmetic check: 0x12345678 * 16 >> 4, and a signed divide
    mov eax, 0x12345678
    shl eax, 4
    shr eax, 4
    cmp eax, 0x02345678
    jne fail
    mov eax, -100
    cdq
    mov ebx, 7
    idiv ebx
    cmp eax, -14
    jne fail
    cmp edx, -2
    jne fail
    mov esi, ok + 0xf0000
    mov ecx, ok_len
    mov dx, COM1
    rep outsb
    mov al, 0x10
    out DEBUG_EXIT, al
    hlt
fail:
    mov esi, bad + 0xf0000
    mov ecx, bad_len
    mov dx, COM1
    rep outsb
    mov al, 0x11
    out DEBUG_EXIT, al
    hlt
msg: db "protected mode ok", 10
msg_len equ $ - msg
ok: db "string io ok", 10
ok_len equ $ - ok
bad: db "string io FAILED", 10
bad_len equ $ - bad

align 8
FLAT_GDT 0xf0000

bits 16
times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
