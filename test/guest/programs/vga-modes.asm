; A boot sector for the std VGA: SeaVGABIOS sets mode 13h (int 10h AX=0013h) and the boot sector
; puts colour 4 at (10,3); then VBE mode 101h (640x480x8, AX=4F02h) with a pixel at (7,5) in
; bank 0 and, after switching the 64 KiB window to bank 1 (AX=4F05h), one at offset 0 of the
; window, which is linear byte 65536: (256,102). After each step it prints a marker on COM1 and
; waits for a byte from the host (interrupts off, so SeaBIOS's serial console does not take it);
; at the end it leaves through isa-debug-exit with 0x2d. A failed VBE call exits with 0x01.
%include "vga-serial.inc"
bits 16
org 0x7c00
start:
    BOOT_START
    mov ax, 0x0013
    int 0x10
    cli
    mov ax, 0xa000
    mov es, ax
    mov byte [es:3*320+10], 4
    mov si, msg13
    call puts
    call getc
    sti
    mov ax, 0x4f02
    mov bx, 0x0101
    int 0x10
    cmp ax, 0x004f
    jne fail
    mov ax, 0xa000
    mov es, ax
    mov byte [es:5*640+7], 4
    mov ax, 0x4f05
    xor bx, bx
    mov dx, 1
    int 0x10
    cmp ax, 0x004f
    jne fail
    cli
    mov byte [es:0], 4
    mov si, msgvbe
    call puts
    call getc
    mov al, 0x2d
    out 0xf4, al
    hlt
fail:
    cli
    mov si, msgfail
    call puts
    mov al, 0x01
    out 0xf4, al
    hlt

SERIAL_ROUTINES

msg13: db "VGA-MODE13-DRAWN", 13, 10, 0
msgvbe: db "VGA-VBE101-DRAWN", 13, 10, 0
msgfail: db "VGA-VBE-FAILED", 13, 10, 0
times 510 - ($ - $$) db 0
dw 0xaa55
