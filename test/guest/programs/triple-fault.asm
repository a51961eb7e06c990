; A triple fault resets the PC and the ROM runs again. First run (CMOS RAM byte 0x40 is not the
; marker): store the marker, print "boot 1", load an IDT with limit 0 and INT3 — #GP, #DF, then
; shutdown. Second run (the marker survived the reset: CMOS RAM is battery-backed): print
; "boot 2" and exit through port 0xF4 with 0x2b.
%include "common.inc"
%define MARKER_INDEX 0x40
%define MARKER 0xa5
bits 16
org 0
start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, cs
    mov ds, ax
    mov al, MARKER_INDEX
    out 0x70, al
    in al, 0x71
    cmp al, MARKER
    je second
    mov al, MARKER_INDEX
    out 0x70, al
    mov al, MARKER
    out 0x71, al
    mov si, msg1
    call print
    lidt [empty_idt]
    int3
.hang:                          ; not reached: the triple fault resets the PC
    mov si, msg_bad
    call print
    mov al, 0x2c
    out DEBUG_EXIT, al
    hlt
    jmp .hang
second:
    mov si, msg2
    call print
    mov al, 0x2b
    out DEBUG_EXIT, al
    hlt
    jmp second

print:
    lodsb
    test al, al
    jz .done
    PUTC16
    jmp print
.done:
    ret

msg1: db "boot 1", 10, 0
msg2: db "boot 2", 10, 0
msg_bad: db "no triple fault", 10, 0
empty_idt:
    dw 0
    dd 0

times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
