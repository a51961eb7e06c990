; PIT interrupts through the 8259 PIC: program both PICs as a PC BIOS does, set PIT channel 0
; to mode 2 at ~1 kHz, count 20 IRQ0s in an STI/HLT loop, print the count, exit.
%include "common.inc"
bits 16
org 0
start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov ds, ax
    ; IVT entry 0x08 (IRQ0 after remap to 0x08) -> handler
    mov word [0x08 * 4], irq0
    mov word [0x08 * 4 + 2], 0xf000
    ; ICW1..ICW4, master at vector 8, slave at 0x70
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x08
    out 0x21, al
    mov al, 0x70
    out 0xa1, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x02
    out 0xa1, al
    mov al, 0x01
    out 0x21, al
    out 0xa1, al
    ; mask everything but IRQ0
    mov al, 0xfe
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    ; PIT channel 0, lo/hi, mode 2, divisor 1193 (~1000 Hz)
    mov al, 0x34
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al
    ; The local APIC comes out of reset enabled with LINT0 masked; a BIOS sets virtual-wire
    ; mode. Disabling the APIC in IA32_APIC_BASE routes the PIC straight to the CPU instead.
    mov ecx, 0x1b
    rdmsr
    and ax, 0xf7ff
    wrmsr
    mov word [0x500], 0
    sti
.wait:
    hlt
    cmp word [0x500], 20
    jb .wait
    cli
    mov si, msg
    mov ax, cs
    mov ds, ax
.print:
    lodsb
    test al, al
    jz .done
    PUTC16
    jmp .print
.done:
    mov al, 0x12
    out DEBUG_EXIT, al
    hlt

irq0:
    push ax
    push ds
    xor ax, ax
    mov ds, ax
    inc word [0x500]
    mov al, 0x20
    out 0x20, al
    pop ds
    pop ax
    iret

msg: db "20 timer interrupts", 10, 0

times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
