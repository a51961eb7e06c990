; The ACPI PM timer (PIIX4 PM block at 0x600, decoding from reset) against PIT counter 2, the way
; Linux's verify_pmtmr_rate checks it: gate counter 2 on, count down 30 ms in mode 0, poll port
; 0x61 bit 5, and note the PM ticks that passed (expected 3579545 * 0.030 = 107386), eight
; times; then print them (last round first) in hex, and the PM ticks 256 back-to-back PM timer
; reads took. Exit 0x13.
%include "common.inc"
%define PM_TMR 0x608
%define LATCH_30MS 35795
%define ROUNDS 8
bits 16
org 0
start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, cs
    mov ds, ax
    mov cx, ROUNDS
.round:
    push cx
    ; counter 2: gate on, speaker off; mode 0, binary, lobyte/hibyte
    in al, 0x61
    and al, 0xfc
    or al, 0x01
    out 0x61, al
    mov al, 0xb0
    out 0x43, al
    mov al, LATCH_30MS & 0xff
    out 0x42, al
    mov al, LATCH_30MS >> 8
    out 0x42, al
    mov dx, PM_TMR
    in eax, dx
    mov ebx, eax
.poll:
    in al, 0x61
    test al, 0x20
    jz .poll
    mov dx, PM_TMR
    in eax, dx
    sub eax, ebx
    and eax, 0xffffff
    pop cx
    mov bx, cx
    shl bx, 2
    mov [cs:results + bx - 4], eax
    loop .round
    mov cx, ROUNDS
.printall:
    mov bx, cx
    shl bx, 2
    mov eax, [cs:results + bx - 4]
    push cx
    call puthex
    pop cx
    loop .printall
    ; 256 reads back to back
    mov dx, PM_TMR
    in eax, dx
    mov ebx, eax
    mov cx, 256
.reads:
    in eax, dx
    loop .reads
    sub eax, ebx
    and eax, 0xffffff
    call puthex
    mov dx, DEBUG_EXIT
    mov al, 0x13
    out dx, al
    hlt
; prints EAX as 8 hex digits and a newline
puthex:
    mov cx, 8
.digit:
    rol eax, 4
    push eax
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .print
    add al, 'a' - '0' - 10
.print:
    call putc
    pop eax
    loop .digit
    mov al, 10
    call putc
    ret
putc:
    PUTC16
    ret
results: times 4 * ROUNDS db 0

times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
