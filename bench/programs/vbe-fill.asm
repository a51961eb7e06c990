; The display benchmark guest: a boot sector (SeaBIOS loads it at 0x7c00 on hvm and on QEMU
; alike) that finds the standard VGA (PCI 1234:1111) on bus 0, reads its linear framebuffer
; address from BAR0, sets the Bochs VBE mode 1024x768x32 with the LFB through the DISPI index
; and data ports (0x1CE/0x1CF), enters flat 32-bit protected mode and redraws the whole
; framebuffer forever, one colour per frame.
bits 16
org 0x7c00
VBE_DISPI_INDEX equ 0x1ce
VBE_DISPI_DATA  equ 0x1cf
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    in al, 0x92                 ; fast A20 on (SeaBIOS leaves it on; be sure)
    or al, 2
    and al, 0xfe
    out 0x92, al
    mov esi, 0xfd000000         ; QEMU's usual BAR0, if the scan finds nothing
    mov ebx, 0x80000000         ; PCI config address: enable, bus 0, device 0, function 0
.scan:
    mov eax, ebx
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    cmp eax, 0x11111234         ; device 1111, vendor 1234
    je .found
    add ebx, 0x800              ; next device number (bits 15:11)
    cmp ebx, 0x80010000
    jb .scan
    jmp .mode
.found:
    lea eax, [ebx + 0x10]       ; BAR0: the framebuffer
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    and eax, 0xfffffff0
    jz .mode
    mov esi, eax
.mode:
    mov bx, 4                   ; ENABLE = 0 while the geometry changes
    xor cx, cx
    call dispi
    mov bx, 1                   ; XRES
    mov cx, 1024
    call dispi
    mov bx, 2                   ; YRES
    mov cx, 768
    call dispi
    mov bx, 3                   ; BPP
    mov cx, 32
    call dispi
    mov bx, 4                   ; ENABLE: enabled | LFB enabled
    mov cx, 0x41
    call dispi
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm

; DISPI register BX = CX.
dispi:
    mov dx, VBE_DISPI_INDEX
    mov ax, bx
    out dx, ax
    mov dx, VBE_DISPI_DATA
    mov ax, cx
    out dx, ax
    ret

bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    cld
    xor ebx, ebx                ; this frame's colour
.frame:
    mov edi, esi
    mov ecx, 1024 * 768
    mov eax, ebx
    rep stosd
    add ebx, 0x00010305
    and ebx, 0x00ffffff
    jmp .frame

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 0x08: flat 32-bit code
    dq 0x00cf92000000ffff       ; 0x10: flat 32-bit data
gdtr:
    dw gdtr - gdt - 1
    dd gdt

times 510 - ($ - $$) db 0
    dw 0xaa55
