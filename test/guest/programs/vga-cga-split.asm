; A boot sector for the std VGA's CRTC features, drawn by SeaVGABIOS modes and then reprogrammed
; through the ports: mode 4 (320x200 4-colour, CGA interleaved banks) started one line pair down
; with a line compare split at scan line 203, mode 6 (640x200 2-colour), mode 12h with its start
; address moved 16 lines down and the split at scan line 300, mode 13h with the start 8 lines
; down and the split at scan line 319, 80x25 text (blink off, cursor off, no characters B0h-BFh)
; started 3 rows down with the split at scan line 197, mode 0Dh with the start 8 lines down and
; the split at scan line 201, and mode 5. Each screen is filled with a pattern of its address;
; after each it prints "VGA-<letter>" on COM1 and waits for a byte from the host. At the end it
; leaves through isa-debug-exit with 0x2d.
%include "vga-serial.inc"
bits 16
org 0x7c00
start:
    BOOT_START
    ; mode 4: B800, 16 KiB in two 8 KiB banks (even and odd lines)
    mov ax, 0x0004
    int 0x10
    mov ax, 0xb800
    mov es, ax
    mov cx, 0x4000
    mov bl, 0x00
    call fill
    mov cx, 40
    mov bx, 203
    call crtc
    mov al, 'A'
    call mark
    ; mode 6: the same layout, one bit a pixel
    mov ax, 0x0006
    int 0x10
    mov ax, 0xb800
    mov es, ax
    mov cx, 0x4000
    mov bl, 0x5a
    call fill
    mov al, 'B'
    call mark
    ; mode 12h: each plane its own pattern, start 16 lines down, split at scan line 300
    mov ax, 0x0012
    int 0x10
    call planes
    mov cx, 80 * 16
    mov bx, 300
    call crtc
    mov al, 'C'
    call mark
    ; mode 13h: start 8 lines down, split at scan line 319 (the last of pixel row 159)
    mov ax, 0x0013
    int 0x10
    mov ax, 0xa000
    mov es, ax
    mov cx, 0xffff
    mov bl, 0x33
    call fill
    mov cx, 320 * 8 / 4
    mov bx, 319
    call crtc
    mov al, 'D'
    call mark
    ; text: blink off (AX=1003h BL=0), cursor off, start 3 rows down, split at scan line 197
    mov ax, 0x0003
    int 0x10
    mov ax, 0x1003
    xor bx, bx
    int 0x10
    mov ah, 0x01
    mov cx, 0x2000
    int 0x10
    mov ax, 0xb800
    mov es, ax
    mov cx, 0x4000
    mov bl, 0x21
    call fill
    ; no characters B0h-BFh: QEMU repeats their 8th dot into the 9th, the IBM VGA only C0h-DFh's
    xor di, di
.chars:
    mov al, [es:di]
    and al, 0xf0
    cmp al, 0xb0
    jne .ok
    xor byte [es:di], 0x10
.ok:
    add di, 2
    cmp di, 0x4000
    jb .chars
    mov cx, 80 * 3
    mov bx, 197
    call crtc
    mov al, 'E'
    call mark
    ; mode 0Dh (320x200, 16 colours, double scanned): start 8 lines down, split at scan line 201
    mov ax, 0x000d
    int 0x10
    call planes
    mov cx, 40 * 8
    mov bx, 201
    call crtc
    mov al, 'F'
    call mark
    ; mode 5 (mode 4 with the other palette)
    mov ax, 0x0005
    int 0x10
    mov ax, 0xb800
    mov es, ax
    mov cx, 0x4000
    mov bl, 0x77
    call fill
    mov al, 'G'
    call mark
    mov al, 0x2d
    out 0xf4, al
    hlt

; A000:0 .. FFFE in each plane, with the plane's map mask as the pattern's seed
planes:
    mov ax, 0xa000
    mov es, ax
    mov ax, 0x0102
.plane:
    mov dx, 0x3c4
    out dx, ax
    push ax
    mov cx, 0xffff
    mov bl, ah
    call fill
    pop ax
    shl ah, 1
    cmp ah, 0x10
    jb .plane
    ret

; es:0 .. cx-1 = low byte of (di*5 ^ di>>6 ^ bl)
fill:
    xor di, di
.next:
    mov ax, di
    mov si, ax
    shl ax, 2
    add ax, si
    shr si, 6
    xor ax, si
    xor al, bl
    stosb
    loop .next
    ret

; start address cx (CR0C/CR0D), line compare bx (CR18, bit 8 in CR07 bit 4, bit 9 in CR09 bit 6)
crtc:
    cli
    mov dx, 0x3d4
    mov al, 0x0c
    mov ah, ch
    out dx, ax
    mov al, 0x0d
    mov ah, cl
    out dx, ax
    mov al, 0x18
    mov ah, bl
    out dx, ax
    mov al, 0x07
    out dx, al
    inc dx
    in al, dx
    and al, 0xef
    test bh, 1
    jz .b8
    or al, 0x10
.b8:
    out dx, al
    dec dx
    mov al, 0x09
    out dx, al
    inc dx
    in al, dx
    and al, 0xbf
    test bh, 2
    jz .b9
    or al, 0x40
.b9:
    out dx, al
    sti
    ret

; prints "VGA-" al CR LF, then waits for a byte
mark:
    cli
    push ax
    mov si, prefix
    call puts
    pop ax
    mov [letter], al
    mov si, letter
    call puts
    call getc
    sti
    ret

SERIAL_ROUTINES

prefix: db "VGA-", 0
letter: db 0, 13, 10, 0
times 510 - ($ - $$) db 0
dw 0xaa55
