; The ioreq round-trip benchmark guest: COUNT reads of the UART's line status register, then
; exit through isa-debug-exit. COUNT is a dword at offset 0x100 of the image, patched by the
; benchmark so two runs of different lengths cancel start-up time.
bits 16
org 0
start:
    cli
    mov ax, cs
    mov ds, ax
    mov ecx, [count]
    mov dx, 0x3fd
.loop:
    in al, dx
    dec ecx
    jnz .loop
    mov al, 0
    out 0xf4, al
    hlt
times 0x100 - ($ - $$) db 0
count: dd 1000
times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
