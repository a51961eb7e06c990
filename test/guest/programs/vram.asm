; VRAM as a linear framebuffer, mapped by the test at 0xFD000000 (later moved to 0xFE000000).
; Prints "ready", then serves commands from the UART:
;   'w'  stores dwords 0..1023 over page 0, byte 0x5a at +0x5007, REP STOSD of 0xa5a5a5a5 over
;        pages 0x20-0x21; reads them back and prints "w" and their sum in hex
;   'a'  prints "a" and the dword at 0xFD003000;  'b'  the same at 0xFE003000
;   't'  stores 65536 dwords (256 KiB) sequentially at 0xFD000000, prints "t" (for timing)
;   'q'  exits through isa-debug-exit with status 0x15
%include "common.inc"
%define LFB  0xfd000000
%define LFB2 0xfe000000
bits 16
org 0
start:
    PM_START pm_entry, 0xf0000, 0x8000
    mov esi, ready + 0xf0000
    call puts
command:
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 1
    jz .wait
    mov dx, COM1
    in al, dx
    cmp al, 'w'
    je do_w
    cmp al, 'a'
    je do_a
    cmp al, 'b'
    je do_b
    cmp al, 't'
    je do_t
    cmp al, 'q'
    jne command
    mov al, 0x15
    out DEBUG_EXIT, al
    hlt
do_w:
    mov edi, LFB
    xor eax, eax
    mov ecx, 1024
.fill:
    mov [edi], eax
    add edi, 4
    inc eax
    loop .fill
    mov byte [LFB + 0x5007], 0x5a
    mov edi, LFB + 0x20000
    mov eax, 0xa5a5a5a5
    mov ecx, 2048
    cld
    rep stosd
    xor ebx, ebx
    mov esi, LFB
    mov ecx, 1024
.sum:
    add ebx, [esi]
    add esi, 4
    loop .sum
    movzx eax, byte [LFB + 0x5007]
    add ebx, eax
    add ebx, [LFB + 0x21ffc]
    mov al, 'w'
    jmp print
do_t:
    mov edi, LFB
    mov ecx, 65536
.store:
    mov [edi], ecx
    add edi, 4
    loop .store
    mov al, 't'
    call putc
    mov al, 10
    call putc
    jmp command
do_a:
    mov ebx, [LFB + 0x3000]
    mov al, 'a'
    jmp print
do_b:
    mov ebx, [LFB2 + 0x3000]
    mov al, 'b'
print:
    call putc
    mov ecx, 8
.digit:
    rol ebx, 4
    mov eax, ebx
    and eax, 15
    mov al, [hex + eax + 0xf0000]
    call putc
    loop .digit
    mov al, 10
    call putc
    jmp command

; putc al (32-bit code)
putc:
    push edx
    push eax
    mov dx, COM1 + 5
.busy:
    in al, dx
    test al, 0x20
    jz .busy
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret
; puts esi (NUL-terminated)
puts:
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
    ret

hex: db "0123456789abcdef"
ready: db "ready", 10, 0

align 8
FLAT_GDT 0xf0000

bits 16
times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
