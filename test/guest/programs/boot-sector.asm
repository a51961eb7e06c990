; A boot sector: SeaBIOS loads it at 0x7C00 from the IDE disk (MBR) or from the CD (El Torito,
; no emulation); it prints a marker on COM1 and exits through isa-debug-exit with 0x2d.
bits 16
org 0x7c00
start:
    cli
    xor ax, ax
    mov ds, ax
    mov si, msg
.next:
    lodsb
    test al, al
    jz .done
    mov ah, al
    mov dx, 0x3fd
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov dx, 0x3f8
    mov al, ah
    out dx, al
    jmp .next
.done:
    mov dx, 0xf4
    mov al, 0x2d
    out dx, al
    hlt
msg: db "BOOT-SECTOR-RAN", 13, 10, 0
times 510 - ($ - $$) db 0
dw 0xaa55
