; A machine reset with an AP running (run with --smp 2). First boot (CMOS RAM byte 41h is not
; the marker): store the marker, start CPU 1 with INIT-SIPI-SIPI (it counts ups at 620h, then
; increments 624h forever), print "boot 1: ap up", triple-fault. The PC resets: RAM is cleared,
; the BSP runs the ROM again and every AP waits for a STARTUP IPI. Second boot: 624h must stay 0
; (CPU 1 no longer runs), CPU 1 starts again on INIT-SIPI-SIPI, "boot 2: ap stopped, up again",
; exit 0x15 (0x16 on a failure).
%include "common.inc"

%define R        0xf0000
%define LAPIC    0xfee00000
%define APUP     0x620
%define APSPIN   0x624
%define MARKER_INDEX 0x41
%define MARKER   0xa6

bits 16
org 0
start:
    PM_START pm, R, 0x80000
    mov dword [LAPIC + 0xf0], 0x1ff
    mov al, MARKER_INDEX
    out 0x70, al
    in al, 0x71
    cmp al, MARKER
    je second

    mov al, MARKER_INDEX
    out 0x70, al
    mov al, MARKER
    out 0x71, al
    call start_ap
    mov esi, m_boot1 + R
    call print
    lidt [null_idt + R]
    int3                                ; #GP with no IDT, #DF, shutdown

second:
    call delay
    call delay
    cmp dword [APSPIN], 0
    jne fail
    call start_ap
    mov esi, m_boot2 + R
    call print
    mov al, 0x15
    out DEBUG_EXIT, al
    cli
    hlt
fail:
    mov esi, m_fail + R
    call print
    mov al, 0x16
    out DEBUG_EXIT, al
    cli
    hlt

; INIT-SIPI-SIPI to APIC 1 (start page F8000h), then wait for it to count itself up.
start_ap:
    mov dword [LAPIC + 0x310], 1 << 24
    mov dword [LAPIC + 0x300], 0x0000c500
    call delay
    mov dword [LAPIC + 0x310], 1 << 24
    mov dword [LAPIC + 0x300], 0x000006f8
    call delay
    mov dword [LAPIC + 0x310], 1 << 24
    mov dword [LAPIC + 0x300], 0x000006f8
    mov ecx, 4000000
.w:
    cmp dword [APUP], 1
    je .up
    pause
    dec ecx
    jnz .w
    jmp fail
.up:
    ret

delay:
    push ecx
    mov ecx, 30000
.d:
    dec ecx
    jnz .d
    pop ecx
    ret

print:
    lodsb
    test al, al
    jz .e
    mov dx, COM1 + 5
    mov ah, al
.w:
    in al, dx
    test al, 0x20
    jz .w
    mov al, ah
    mov dx, COM1
    out dx, al
    jmp print
.e:
    ret

m_boot1: db "boot 1: ap up", 10, 0
m_boot2: db "boot 2: ap stopped, up again", 10, 0
m_fail: db "FAIL", 10, 0

align 8
FLAT_GDT R
null_idt:
    dw 0
    dd 0

times 0x8000 - ($ - $$) db 0
bits 16
ap_start:
    cli
    mov ax, 0xf000
    mov ds, ax
    ENTER_PM gdt_ptr, ap_pm + R
bits 32
ap_pm:
    mov ax, 0x10
    mov ds, ax
    lock inc dword [APUP]
.spin:
    lock inc dword [APSPIN]
    jmp .spin

bits 16
times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
