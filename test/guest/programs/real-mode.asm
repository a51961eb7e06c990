; Real mode: arithmetic, a call, a loop, printing through the UART, exit through isa-debug-exit.
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
    ; UART: 8N1, divisor 1 (115200)
    mov dx, COM1 + 3
    mov al, 0x80
    out dx, al
    mov dx, COM1
    mov al, 1
    out dx, al
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 3
    out dx, al
    mov si, msg
    call puts
    ; 6 * 7 = 42, printed as two digits
    mov ax, 6
    mov bx, 7
    mul bx
    mov bl, 10
    div bl               ; al = 4, ah = 2
    push ax
    add al, '0'
    call putc
    pop ax
    mov al, ah
    add al, '0'
    call putc
    mov al, 10
    call putc
    ; exit status (0x21 << 1) | 1 = 67
    mov dx, DEBUG_EXIT
    mov al, 0x21
    out dx, al
    hlt
puts:
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
    ret
putc:
    PUTC16
    ret
msg: db "real mode ok ", 0

times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
