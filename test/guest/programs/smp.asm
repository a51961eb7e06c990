; Multiprocessor start-up and interrupt delivery on three CPUs (run with --smp 3). The BSP
; enters flat protected mode, builds an IDT, enables its local APIC and starts each AP with
; INIT (assert, de-assert), STARTUP, STARTUP (Intel MP spec B.4). An AP starts in real mode at
; F800:0000 (SIPI vector F8h), reaches protected mode, records its APIC ID, sets up its LAPIC
; (flat logical ID 1 << id, TPR = id * 10h), does 10000 LOCK INCs on a shared counter and idles
; in STI/HLT. Then, checked one by one: a fixed IPI to CPU 1 answered by an IPI back to the BSP,
; a logical (flat) IPI to CPUs 1 and 2, the all-but-self / all / self shorthands, an NMI to CPU 2,
; a lowest-priority IPI (exactly one CPU takes it), and PIT IRQ0 routed by the IOAPIC to CPU 1.
; Only the BSP prints (so the output is deterministic); counters live at CNT(vector, cpu).
; Exit 0x13 when all is well, 0x14 on the first failure (its name printed).
%include "common.inc"

%define R        0xf0000           ; where the ROM's offsets are in physical memory
%define LAPIC    0xfee00000
%define IOAPIC   0xfec00000
%define IDT      0x1000
%define UPIDS    0x600             ; dword per CPU: 100h + APIC ID once up
%define APCOUNT  0x620
%define LOCKCNT  0x624
%define PRINTBUF 0x640
%define CNTBASE  0x3000
%define CNT(v, c) (CNTBASE + (v) * 16 + (c) * 4)
%define WAIT     4000000           ; spin iterations before a wait counts as failed

; WAIT_EQ addr, value, failmsg: spins until dword [addr] == value, else fails.
%macro WAIT_EQ 3
    mov ecx, WAIT
%%w:
    cmp dword [%1], %2
    je %%ok
    pause
    dec ecx
    jnz %%w
    mov esi, %3 + R
    jmp fail
%%ok:
%endmacro

; CHECK_EQ addr, value, failmsg
%macro CHECK_EQ 3
    cmp dword [%1], %2
    je %%ok
    mov esi, %3 + R
    jmp fail
%%ok:
%endmacro

; ICR hi, lo: sends an IPI from this CPU.
%macro IPI 2
    mov dword [LAPIC + 0x310], %1
    mov dword [LAPIC + 0x300], %2
%endmacro

%macro PRINT 1
    mov esi, %1 + R
    call print
%endmacro

bits 16
org 0
start:
    PM_START pm_entry, R, 0x80000
    ; the IDT: 32-bit interrupt gates from idt_table
    mov esi, idt_table + R
.gate:
    mov eax, [esi]
    cmp eax, -1
    je .gates_done
    mov edx, [esi + 4]
    lea edi, [IDT + eax * 8]
    mov [edi], dx
    mov word [edi + 2], 0x08
    mov word [edi + 4], 0x8e00
    shr edx, 16
    mov [edi + 6], dx
    add esi, 8
    jmp .gate
.gates_done:
    lidt [idt_ptr + R]
    call lapic_setup
    sti
    PRINT m_bsp

    ; INIT-SIPI-SIPI to each AP, addressed by APIC ID (physical destination)
    mov ebx, 1
.start_ap:
    mov eax, ebx
    shl eax, 24
    mov [LAPIC + 0x310], eax
    mov dword [LAPIC + 0x300], 0x0000c500      ; INIT, level, assert
    call delay
    mov [LAPIC + 0x310], eax
    mov dword [LAPIC + 0x300], 0x00008500      ; INIT, level, de-assert
    call delay
    mov [LAPIC + 0x310], eax
    mov dword [LAPIC + 0x300], 0x000006f8      ; STARTUP at page F8000h
    call delay
    mov [LAPIC + 0x310], eax
    mov dword [LAPIC + 0x300], 0x000006f8      ; the second STARTUP is ignored
    inc ebx
    cmp ebx, 3
    jb .start_ap

    WAIT_EQ UPIDS + 4, 0x101, f_cpu1
    PRINT m_cpu1
    WAIT_EQ UPIDS + 8, 0x102, f_cpu2
    PRINT m_cpu2
    WAIT_EQ APCOUNT, 2, f_count
    call delay
    CHECK_EQ APCOUNT, 2, f_sipi
    PRINT m_sipi
    CHECK_EQ LOCKCNT, 20000, f_lock
    PRINT m_lock

    ; fixed IPI 40h to CPU 1, which answers with 41h to the BSP
    IPI 1 << 24, 0x40
    WAIT_EQ CNT(0x41, 0), 1, f_fixed
    CHECK_EQ CNT(0x40, 1), 1, f_fixed
    CHECK_EQ CNT(0x40, 2), 0, f_fixed
    PRINT m_fixed

    ; logical, flat model: destination 06h is CPUs 1 and 2
    IPI 0x06 << 24, 0x800 | 0x42
    WAIT_EQ CNT(0x42, 1), 1, f_logical
    WAIT_EQ CNT(0x42, 2), 1, f_logical
    CHECK_EQ CNT(0x42, 0), 0, f_logical
    PRINT m_logical

    ; shorthands: all excluding self (43h), all including self (44h), self (45h)
    IPI 0, 0xc0000 | 0x43
    IPI 0, 0x80000 | 0x44
    IPI 0, 0x40000 | 0x45
    WAIT_EQ CNT(0x43, 1), 1, f_bcast
    WAIT_EQ CNT(0x43, 2), 1, f_bcast
    WAIT_EQ CNT(0x44, 0), 1, f_bcast
    WAIT_EQ CNT(0x44, 1), 1, f_bcast
    WAIT_EQ CNT(0x44, 2), 1, f_bcast
    WAIT_EQ CNT(0x45, 0), 1, f_bcast
    CHECK_EQ CNT(0x43, 0), 0, f_bcast
    CHECK_EQ CNT(0x45, 1), 0, f_bcast
    CHECK_EQ CNT(0x45, 2), 0, f_bcast
    PRINT m_bcast

    ; NMI to CPU 2
    IPI 2 << 24, 0x400
    WAIT_EQ CNT(2, 2), 1, f_nmi
    CHECK_EQ CNT(2, 1), 0, f_nmi
    CHECK_EQ CNT(2, 0), 0, f_nmi
    PRINT m_nmi

    ; lowest priority among CPUs 1 and 2 (TPR 10h and 20h): exactly one takes it
    IPI 0x06 << 24, 0x800 | 0x100 | 0x46
    mov ecx, WAIT
.lp:
    mov eax, [CNT(0x46, 1)]
    add eax, [CNT(0x46, 2)]
    jnz .lp_taken
    pause
    dec ecx
    jnz .lp
    mov esi, f_lowest + R
    jmp fail
.lp_taken:
    call delay
    mov eax, [CNT(0x46, 1)]
    add eax, [CNT(0x46, 2)]
    cmp eax, 1
    mov esi, f_lowest + R
    jne fail
    PRINT m_lowest
    mov al, '1'
    cmp dword [CNT(0x46, 1)], 1
    je .lp_print
    mov al, '2'
.lp_print:
    call putc
    mov al, 10
    call putc

    ; PIT channel 0 at ~1 kHz; IOAPIC pin 2 (ISA IRQ0) -> vector 50h, physical, CPU 1, edge
    mov dword [IOAPIC], 0x15
    mov dword [IOAPIC + 0x10], 1 << 24
    mov dword [IOAPIC], 0x14
    mov dword [IOAPIC + 0x10], 0x50
    mov al, 0x34
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al
    mov ecx, WAIT
.tick:
    cmp dword [CNT(0x50, 1)], 10
    jae .ticked
    pause
    dec ecx
    jnz .tick
    mov esi, f_ioapic + R
    jmp fail
.ticked:
    mov dword [IOAPIC], 0x14
    mov dword [IOAPIC + 0x10], 0x10050          ; masked
    CHECK_EQ CNT(0x50, 0), 0, f_ioapic
    CHECK_EQ CNT(0x50, 2), 0, f_ioapic
    PRINT m_ioapic

    mov al, 0x13
    out DEBUG_EXIT, al
    cli
    hlt

fail:
    push esi
    PRINT m_fail
    pop esi
    call print
    mov al, 10
    call putc
    mov al, 0x14
    out DEBUG_EXIT, al
    cli
    hlt

; ---- helpers (32-bit) ----

; This CPU's LAPIC: enabled (spurious vector FFh), flat logical ID 1 << id, TPR id * 10h.
; Returns the APIC ID in EBX.
lapic_setup:
    mov ebx, [LAPIC + 0x20]
    shr ebx, 24
    mov dword [LAPIC + 0xf0], 0x1ff
    mov dword [LAPIC + 0xe0], 0xffffffff
    mov ecx, ebx
    mov eax, 1
    shl eax, cl
    shl eax, 24
    mov [LAPIC + 0xd0], eax
    mov eax, ebx
    shl eax, 4
    mov [LAPIC + 0x80], eax
    ret

; A pause long enough for the other CPUs to get a few run slices.
delay:
    push ecx
    mov ecx, 30000
.d:
    dec ecx
    jnz .d
    pop ecx
    ret

putc:
    push edx
    push eax
    mov dx, COM1 + 5
.w:
    in al, dx
    test al, 0x20
    jz .w
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

; prints the NUL-terminated string at ESI
print:
    push eax
.p:
    lodsb
    test al, al
    jz .e
    call putc
    jmp .p
.e:
    pop eax
    ret

; Interrupt handlers: count CNT(vector, APIC ID), EOI (not for NMI).
%macro COUNTER 2
h_%1:
    push eax
    mov eax, [LAPIC + 0x20]
    shr eax, 24
    inc dword [CNTBASE + %1 * 16 + eax * 4]
  %if %2
    mov dword [LAPIC + 0xb0], 0
  %endif
    pop eax
    iret
%endmacro
COUNTER 2, 0
COUNTER 0x41, 1
COUNTER 0x42, 1
COUNTER 0x43, 1
COUNTER 0x44, 1
COUNTER 0x45, 1
COUNTER 0x46, 1
COUNTER 0x50, 1

; 40h on an AP: count, answer the BSP with 41h
h_0x40:
    push eax
    mov eax, [LAPIC + 0x20]
    shr eax, 24
    inc dword [CNT(0x40, 0) + eax * 4]
    IPI 0, 0x41
    mov dword [LAPIC + 0xb0], 0
    pop eax
    iret

h_spurious:
    iret

align 8
idt_table:
    dd 2, h_2 + R
    dd 0x40, h_0x40 + R
    dd 0x41, h_0x41 + R
    dd 0x42, h_0x42 + R
    dd 0x43, h_0x43 + R
    dd 0x44, h_0x44 + R
    dd 0x45, h_0x45 + R
    dd 0x46, h_0x46 + R
    dd 0x50, h_0x50 + R
    dd 0xff, h_spurious + R
    dd -1, 0

m_bsp: db "smp: bsp up", 10, 0
m_cpu1: db "cpu 1 up", 10, 0
m_cpu2: db "cpu 2 up", 10, 0
m_sipi: db "second sipi ignored", 10, 0
m_lock: db "lock inc ok", 10, 0
m_fixed: db "fixed ipi 0->1->0 ok", 10, 0
m_logical: db "logical ipi ok", 10, 0
m_bcast: db "shorthand ipis ok", 10, 0
m_nmi: db "nmi ok", 10, 0
m_lowest: db "lowest priority -> cpu ", 0
m_ioapic: db "ioapic irq0 -> cpu 1 ok", 10, 0
m_fail: db "FAIL ", 0
f_cpu1: db "cpu 1 start", 0
f_cpu2: db "cpu 2 start", 0
f_count: db "ap count", 0
f_sipi: db "second sipi restarted an AP", 0
f_lock: db "lock count", 0
f_fixed: db "fixed ipi", 0
f_logical: db "logical ipi", 0
f_bcast: db "shorthand ipis", 0
f_nmi: db "nmi", 0
f_lowest: db "lowest priority", 0
f_ioapic: db "ioapic", 0

align 8
FLAT_GDT R
idt_ptr:
    dw 0x7ff
    dd IDT

; ---- the AP start page: F8000h (SIPI vector F8h), entered in real mode at F800:0000 ----
times 0x8000 - ($ - $$) db 0
bits 16
ap_start:
    cli
    mov ax, 0xf000
    mov ds, ax
    ENTER_PM gdt_ptr, ap_pm + R
bits 32
ap_pm:
    FLAT_DATA
    lidt [idt_ptr + R]
    mov eax, [LAPIC + 0x20]
    shr eax, 24
    mov esp, eax
    shl esp, 12
    neg esp
    add esp, 0x70000            ; a 4 KiB stack per AP below 70000h
    call lapic_setup
    lea eax, [ebx + 0x100]
    mov [UPIDS + ebx * 4], eax
    mov ecx, 10000
.inc:
    lock inc dword [LOCKCNT]
    dec ecx
    jnz .inc
    lock inc dword [APCOUNT]
    sti
.idle:
    hlt
    jmp .idle

bits 16
times 0xfff0 - ($ - $$) db 0
    jmp 0xf000:start
times 0x10000 - ($ - $$) db 0
