; Prints "boot\n" once, then a '.' after every 2000 UART status reads, forever: the
; lifecycle test pauses, resumes, resets and stops it. A byte written to the UART from the
; host ("q") makes it exit through isa-debug-exit with status (0x2a << 1) | 1.
%include "common.inc"
bits 16
org 0
start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, cs
    mov ds, ax
    mov al, 'b'
    call putc
    mov al, 'o'
    call putc
    call putc
    mov al, 't'
    call putc
    mov al, 10
    call putc
.tick:
    mov cx, 2000
.delay:
    mov dx, COM1 + 5
    in al, dx
    test al, 1                ; LSR.DR: a byte from the host?
    jnz .input
    loop .delay
    mov al, '.'
    call putc
    jmp .tick
.input:
    mov dx, COM1
    in al, dx
    cmp al, 'q'
    jne .tick
    mov dx, DEBUG_EXIT
    mov al, 0x2a
    out dx, al
    hlt
putc:
    PUTC16
    ret

times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
